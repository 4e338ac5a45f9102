"""The RPC client: many concurrent calls share one TCP connection, matched by request id.

Each call gets a fresh request id and a slot in the connection's ``CallTable``, then
sends its frame. Replies are read by a *leader/follower* scheme: whichever waiting caller
holds the connection's read lock reads the socket and hands every reply to the slot with
the same id (its own or another caller's); the others wait on a bare lock until their
reply arrives or they are promoted to reader. A lone caller thus reads its own reply
with no thread hand-over (the fast path), while many threads still share one connection
without taking turns: a slow call never holds up a fast one. Asynchronous calls are
read by a background thread that takes the read lock while they are outstanding, and keeps
it for a moment (``ASYNC_LINGER_S``) after the last one is answered: a node that calls a
peer hundreds of times a second then finds its reader already waiting on the socket
instead of waking it for every call.
``call_async`` returns a ``concurrent.futures.Future`` whose deadline is kept by one
timer thread (``DelayLine``), never by a thread per call.

An asynchronous call never connects on its caller's thread. A frozen peer's kernel still
accepts the TCP connection, but nobody answers the handshake: a caller that must not block
(a Raft driver) would wait out the connect timeout, and a retry connecting on the timer
thread would hold up every other deadline of the client. So an attempt that finds no open
connection is handed to the client's *connector* (``_Connector``), one thread that connects
and then sends the waiting attempts in the order they were handed over. The blocking
``call`` connects on its own thread, as a blocking call may.

Failures are ``RpcError``s that say whether the call certainly did not run
(``definite``). With ``retries=N`` a call is re-sent after a timeout or a lost
connection: *at-least-once*, so a non-idempotent handler may run twice — unless the
client was made with ``at_most_once=True``, when every retry carries the same
``(client_id, seq)`` and the server's duplicate table runs it at most once.

What it must never do: return a reply to the wrong caller, wait forever (every wait has
a timeout), or unpickle anything. Where it fits: nodes call peers with it; the cluster
controller uses one named ``CONTROLLER`` (exempt from faults) to drive ``Fault.set``.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from _thread import allocate_lock
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from distlab.rpc import auth, codec
from distlab.rpc._io import (
    SEND_STALL_S,
    bound_send_stalls,
    checked_send_stall,
    recv_one_frame,
    timeval,
)
from distlab.rpc.at_most_once import ClientSession
from distlab.rpc.calls import (
    READ_WAIT_S,
    RETRY,
    Attempts,
    CallTable,
    GiveUp,
    RequestIds,
    connection_lost,
    deadline_s,
    outcome_of_reply,
    read_wait_s,
    timed_out,
)
from distlab.rpc.codec import REQUEST, BadMessage
from distlab.rpc.delay_line import DelayLine, Timer
from distlab.rpc.errors import AuthenticationError, ConnectionLost, RpcError
from distlab.rpc.faults import FAULT_METHOD_PREFIX, FaultPolicy
from distlab.rpc.framing import DEFAULT_MAX_FRAME_BYTES, HEADER, VERSION, FrameDecoder, FrameError
from distlab.rpc.trace import LamportClock, Tracer
from distlab.sync import lock_order_checking_enabled, warn_if_locks_held

log = logging.getLogger("distlab.rpc")

# --- The concurrency tricks, and what justifies each ------------------------------------
# A plain design would have one reader thread per connection that hands every reply to
# its caller. This client departs from it twice. Figures: benchmarks/rpc_bench.py on the
# 2-CPU course machine, --pin same, 5000 calls x 3 reps, medians of 4 interleaved runs,
# 7 Dec 2026 (branch rpc-hardening); wall-clock rates swung up to 2x with other load, so
# CPU microseconds per call (client + server) are quoted beside them.
#
# 1. Leader/follower reading (``Client._call_once``, ``_read``, ``_promote``). A blocking
#    caller that finds the read lock free reads the socket itself, so a lone caller gets
#    its reply without waking another thread. The plain design is what ``call_async``
#    does (background reader + Future), measured as "distlab-async": about 15,000 calls/s
#    and 44-65 us of client CPU per call, against 32,000-37,000 calls/s and 16-18 us for
#    the blocking "distlab". Followers wait on their own bare lock (``_Waiter``) and are
#    woken by the leader when their reply arrives or when it leaves (``_promote``), so
#    threads sharing one connection never take turns: "distlab-8t" is 1.2x one thread
#    with both ends on one CPU, 3.0x with client and server on separate CPUs.
# 2. Linger (``ASYNC_LINGER_S``). The background reader keeps reading 20 ms after the
#    last asynchronous reply instead of going back to sleep on a condition, so a caller
#    that issues asynchronous calls one after another (Raft heartbeats, replication)
#    does not pay a condition wake-up each time. ``--async-linger-s 0`` against the
#    default, "distlab-async", 3 interleaved runs: 59 -> 51 us of client CPU per call and
#    a median latency of 78 -> 62 us; the rate moved within noise (0.16 -> 0.17 of the
#    raw echo's).
# 3. A receive timeout instead of a poll (``read_wait_s`` in calls.py). A reader used to
#    poll() with the caller's deadline before every recv. Now the socket's own receive
#    timeout (SO_RCVTIMEO, at most ``READ_WAIT_S``, changed only when it must) bounds one
#    blocking recv: a blocking call makes three system calls (the idle check's poll(0),
#    sendall, recv) instead of four, and the server two. With a lighter reply path
#    (the call table's dict operations, a reader's own reply taken without a wake-up,
#    numbers checked inline) and the server's one-set-test dispatch: rpc_bench, 10,000
#    calls x 3 reps, two interleaved runs each on a quiet machine (7 Dec 2026), against
#    the commit before: --pin same 0.54-0.55 -> 0.59-0.61 of the raw echo's rate, 35 ->
#    33 us of CPU per call (client + server); --pin split 0.63-0.68 -> 0.78-0.79.
# 4. No timer wake-up per asynchronous call (delay_line.py: a new deadline signals the
#    timer thread only if due before it wakes anyway). "distlab-async", 10,000 calls x 3
#    reps, interleaved with the commit before (8 Dec 2026): --pin same 0.27-0.30 ->
#    0.31-0.35 of the raw echo's rate, client CPU 50 -> 43-45 us per call. With --pin
#    split the rate *fell*, 13,500-13,800 -> 10,500-10,700 calls/s (5,000 calls, 3 runs),
#    and the median round trip rose 68 -> 93 us, while client CPU fell (60 -> 54 us).
#    Most likely the timer thread's useless wake-up kept the client's virtual CPU from
#    halting while it waited for the reply, and a halted one wakes slowly on this VM. We
#    keep the CPU saved rather than that accident.
#
# Every wait has a timeout; the race between a reply and a deadline is settled by
# ``CallTable.take`` (calls.py): whoever takes the slot ends the call, the other sees None.

DEFAULT_TIMEOUT = 10.0
_PEEK_NOW = int(socket.MSG_PEEK | socket.MSG_DONTWAIT)  # or-ing the enums costs a microsecond
_RECV_BYTES = 65536  # below malloc's mmap threshold: a bigger buffer costs an mmap per recv
ASYNC_LINGER_S = 0.02  # how long the background reader keeps reading after the last reply


@dataclass(frozen=True)
class ClientStatistics:
    """What the client has done so far."""

    requests_sent: int
    retries: int
    timeouts: int
    connections_made: int
    connections_lost: int
    late_replies: int
    in_flight: int


class _Waiter:
    """Slot of a blocking call. ``lock`` is a wake-up token: released when the reply is
    in (``done``) or when the caller is promoted to reader."""

    __slots__ = ("done", "error", "lock", "method", "ok", "sent", "value")

    def __init__(self, method: str) -> None:
        self.method = method
        self.lock = allocate_lock()
        self.lock.acquire()
        self.sent = True
        self.done = False
        self.error: RpcError | None = None
        self.ok = False
        self.value: Any = None

    def wake(self) -> None:
        # try/except rather than contextlib.suppress: this is on every call's path.
        try:  # noqa: SIM105
            self.lock.release()
        except RuntimeError:  # already released: one token is enough
            pass

    def deliver(self, ok: bool, value: Any) -> None:
        self.ok, self.value = ok, value
        self.done = True
        self.wake()

    def fail(self, error: RpcError) -> None:
        self.error = error
        self.done = True
        self.wake()


class _Connection:
    """One TCP connection to the server, its pending calls and who reads it."""

    __slots__ = (
        "alive",
        "async_cond",
        "async_lock",
        "async_outstanding",
        "async_reader_waiting",
        "calls",
        "decoder",
        "poller",
        "read_lock",
        "read_wait",
        "send_lock",
        "server_name",
        "sock",
    )

    def __init__(self, sock: socket.socket, server_name: str, max_frame_bytes: int) -> None:
        self.sock = sock
        self.server_name = server_name
        self.calls = CallTable()  # request id -> _Waiter or _AsyncCall
        self.send_lock = threading.Lock()
        self.read_lock = threading.Lock()  # the reading role; only its holder calls recv
        self.decoder = FrameDecoder(max_frame_bytes)
        # The socket stays blocking (senders must never see a timeout mid-frame); a
        # reader bounds its recv with the socket's receive timeout instead, which only
        # the holder of the read lock changes (``set_read_wait``).
        self.read_wait = 0.0  # the receive timeout now set, in seconds (0: none yet)
        self.poller = select.poll()  # used only by the idle check (Client._connection)
        self.poller.register(sock.fileno(), select.POLLIN)
        self.alive = True
        self.async_outstanding = 0  # asynchronous calls waiting for a reply
        # ``with async_lock`` where no wait or notify follows: the same lock as the
        # condition's, without the condition's Python-level wrapper.
        self.async_lock = threading.Lock()
        self.async_cond = threading.Condition(self.async_lock)
        self.async_reader_waiting = False  # the background reader sleeps on async_cond

    def send(self, frame: bytes) -> None:
        try:
            with self.send_lock:
                self.sock.sendall(frame)
        except OSError:
            self.shutdown()  # the reader notices and fails every pending call

    def set_read_wait(self, seconds: float) -> None:
        """Bound the next blocking recv to ``seconds`` (caller holds ``read_lock``)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval(seconds))
        self.read_wait = seconds

    def shutdown(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def fail_all(self, error_message: str) -> None:
        self.alive = False
        with self.async_cond:
            self.async_cond.notify_all()
        take_any = self.calls.take_any
        while (slot := take_any()) is not None:
            slot.fail(connection_lost(error_message, slot.sent))


class Client:
    """Calls methods on one Server. Thread-safe; reconnects when the server comes back.

    ``name`` identifies this side to the server and to the fault policy; ``policy``
    (usually the node's, shared with its Server) faults the requests this client sends.
    A send that cannot move a byte for ``send_stall_s`` seconds (a peer that stopped
    reading) drops the connection: its calls fail as "may have run".
    """

    def __init__(
        self,
        address: tuple[str, int],
        name: str = "client",
        secret: str | bytes | None = None,
        policy: FaultPolicy | None = None,
        tracer: Tracer | None = None,
        *,
        at_most_once: bool = False,
        clock: LamportClock | None = None,
        connect_timeout: float = 5.0,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        control_secret: str | bytes | None = None,
        send_stall_s: float = SEND_STALL_S,
    ) -> None:
        self.address = (str(address[0]), int(address[1]))
        self.name = name
        self._key = auth.as_key(secret)
        # A cluster's controller proves its per-run control secret too (see auth.py).
        self._control_key = auth.as_key(control_secret)
        self.policy = policy if policy is not None else FaultPolicy()
        self.tracer = tracer
        self.clock = clock if clock is not None else LamportClock()
        self.at_most_once = at_most_once
        self._session = ClientSession() if at_most_once else None
        self.connect_timeout = connect_timeout
        self.max_frame_bytes = max_frame_bytes
        self.send_stall_s = checked_send_stall(send_stall_s)  # see _io.bound_send_stalls
        self._ids = RequestIds()
        self._conn: _Connection | None = None
        self._connect_lock = threading.Lock()
        # The socket whose handshake is under way, so that close() can cut it short.
        self._handshaking: socket.socket | None = None
        self._handshaking_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self._delay_line = DelayLine(f"rpc-client-{name}-timer")
        self._connector = _Connector(self)
        self._closed = False
        self._stats_lock = threading.Lock()
        self._counts = dict.fromkeys(("retries", "timeouts", "connects", "lost", "late"), 0)

    # -- public API ---------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        """Is a connection open now (so a call starts without connecting)? A hint: the
        server may have gone away without the client noticing yet."""
        conn = self._conn
        return conn is not None and conn.alive

    @property
    def server_name(self) -> str | None:
        """The server's name, learned at connect (None before the first connection)."""
        conn = self._conn
        return conn.server_name if conn is not None else None

    def call(
        self, method: str, *args: Any, timeout: float = DEFAULT_TIMEOUT, retries: int = 0
    ) -> Any:
        """Call ``method`` ("Service.method") with ``args``; return its result or raise.

        ``timeout`` bounds each attempt. ``retries`` re-sends after a timeout or a lost
        connection (see the module docstring for what that means without at-most-once).
        Raises RemoteError, RpcTimeout, ConnectionLost, UnknownMethod, BadArguments, ...
        """
        if lock_order_checking_enabled():  # build the message only when someone checks
            warn_if_locks_held(f"rpc {method}", stacklevel=3)  # blame the caller of Client.call
        if retries < 0:  # checked here too: Attempts is only made once an attempt fails
            raise ValueError(f"retries must be >= 0, got {retries}")
        session = self._session
        seq = session.start() if session is not None else 0
        attempts: Attempts | None = None
        try:
            while True:
                try:
                    return self._call_once(method, args, timeout, session, seq)
                except RpcError as error:
                    if attempts is None:  # the retry rule lives in calls.py, shared with async
                        attempts = Attempts(retries)
                    decision = attempts.after_failure(error)
                    if decision is RETRY:
                        self._count("retries")
                        continue
                    assert isinstance(decision, GiveUp)
                    if decision.renew_session:
                        self._renew_session(session)
                    if decision.error is error:
                        raise
                    raise decision.error from error
        finally:
            if session is not None:
                session.end(seq)

    def call_async(
        self, method: str, *args: Any, timeout: float = DEFAULT_TIMEOUT, retries: int = 0
    ) -> Future:
        """Like ``call`` but returns at once with a Future for the result (or the error)."""
        attempts = Attempts(retries)  # before session.start(): a bad value opens no seq
        session = self._session
        seq = session.start() if session is not None else 0
        pending = _AsyncCall(self, method, args, timeout, attempts, session, seq)
        pending.attempt()
        return pending.future

    def close(self) -> None:
        """Close the connection (pending calls fail with ConnectionLost); join threads."""
        # Set before the handshake is cut short: a handshake that starts later sees it
        # (``_connect``), and any later ``_connection`` refuses to connect.
        self._closed = True
        with self._handshaking_lock:
            if self._handshaking is not None:
                with contextlib.suppress(OSError):
                    self._handshaking.shutdown(socket.SHUT_RDWR)
        self._connector.stop()
        with self._connect_lock:
            conn = self._conn
        if conn is not None:
            # Before joining the connector: this also ends a send it may be blocked in.
            self._lose(conn, "the client was closed")
        self._connector.join()
        for reader in list(self._readers):
            if reader is not threading.current_thread():
                reader.join()
        self._delay_line.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def statistics(self) -> ClientStatistics:
        """Counters: requests sent, retries, timeouts, connections, late replies."""
        conn = self._conn
        with self._stats_lock:
            c = self._counts
            return ClientStatistics(
                requests_sent=self._ids.last,
                retries=c["retries"],
                timeouts=c["timeouts"],
                connections_made=c["connects"],
                connections_lost=c["lost"],
                late_replies=c["late"],
                in_flight=len(conn.calls) if conn is not None else 0,
            )

    # -- one attempt --------------------------------------------------------------------
    def _call_once(
        self,
        method: str,
        args: tuple,
        timeout: float,
        session: ClientSession | None,
        seq: int,
    ) -> Any:
        now = time.monotonic()
        deadline = deadline_s(now, timeout)
        conn = self._connection(timeout)
        waiter = _Waiter(method)
        request_id = self._send(conn, method, args, session, seq, waiter)
        read_lock = conn.read_lock
        while not waiter.done:
            if read_lock.acquire(False):
                # Leader: read until our own reply is in (dispatching others' on the way).
                try:
                    self._read(conn, waiter, deadline)
                finally:
                    read_lock.release()
                    if conn.calls:  # others wait: one of them must take over reading
                        self._promote(conn)
                if waiter.done:
                    break
            else:
                # Follower: wait for our reply, or to be promoted when the leader leaves.
                remaining = deadline - time.monotonic()
                if remaining > 0:
                    waiter.lock.acquire(timeout=remaining)
                    continue
            if time.monotonic() >= deadline and not waiter.done:
                if conn.calls.take(request_id) is not None:
                    self._count("timeouts")
                    raise timed_out(method, conn.server_name, timeout, waiter.sent)
                # The reply (or a failure) raced the timeout: it is being delivered.
                while not waiter.done:
                    waiter.lock.acquire(timeout=0.01)
        if waiter.error is not None:
            raise waiter.error
        if waiter.ok:
            return waiter.value
        raise outcome_of_reply(False, waiter.value)

    def _promote(self, conn: _Connection) -> None:
        """After leaving the read lock: wake someone to take over reading, if needed."""
        if not conn.calls:
            return
        for slot in conn.calls.slots():
            if type(slot) is _Waiter and not slot.done:
                slot.wake()
                return
        if conn.async_outstanding:
            with conn.async_cond:
                conn.async_cond.notify()

    def _send(
        self,
        conn: _Connection,
        method: str,
        args: tuple,
        session: ClientSession | None,
        seq: int,
        slot: Any,
    ) -> int:
        """Register ``slot`` and send one request frame (subject to the fault policy)."""
        request_id = self._ids.next()
        now = self.clock.tick()
        if session is not None:
            message = [
                REQUEST,
                request_id,
                now,
                method,
                args,
                [session.client_id, seq, session.ack],
            ]
        else:
            message = [REQUEST, request_id, now, method, args]
        try:
            payload = codec.pack(message)
        except (TypeError, ValueError, OverflowError) as error:
            raise TypeError(f"cannot send the arguments of {method}: {error}") from None
        if len(payload) > self.max_frame_bytes:
            raise ValueError(
                f"request to {method} is {len(payload)} bytes; the frame limit is "
                f"{self.max_frame_bytes}"
            )
        frame = HEADER.pack(len(payload), VERSION) + payload
        conn.calls[request_id] = slot  # CallTable.add, as the dict operation it is
        if not conn.alive:  # the reader may have failed everything just before we registered
            conn.calls.take(request_id)
            raise connection_lost(f"connection to {conn.server_name} lost", sent=False)
        tracer = self.tracer
        if tracer is None and not self.policy.active:
            conn.send(frame)  # a perfect network, nobody tracing: the fast path
            return request_id
        if method.startswith(FAULT_METHOD_PREFIX) or not self.policy.active:
            delays: tuple[float, ...] = (0.0,)
            note = ""
        else:
            delays, note = self.policy.plan(self.name, conn.server_name, "request")
        if tracer is not None:
            kind = "send" if delays else "drop"
            tracer.record(
                self.name, conn.server_name, kind, "request", method, request_id, now, note
            )
        if not delays:
            slot.sent = False
            return request_id
        for delay in delays:
            if delay > 0:
                self._delay_line.schedule(delay, conn.send, frame)
            else:
                conn.send(frame)
        return request_id

    def _expire(self, conn: _Connection, request_id: int, slot: Any, timeout: float) -> None:
        """Deadline of an asynchronous attempt (runs on the timer thread)."""
        if conn.calls.take(request_id) is slot:
            self._count("timeouts")
            slot.fail(timed_out(slot.method, conn.server_name, timeout, slot.sent))

    def _renew_session(self, session: ClientSession | None) -> None:
        # The server forgot us: later calls start a new session (a new client id).
        with self._connect_lock:
            if self._session is session:
                self._session = ClientSession()

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self._counts[key] += 1

    # -- connection ---------------------------------------------------------------------
    def _connection(self, timeout: float) -> _Connection:
        conn = self._conn
        if conn is not None and conn.alive and not self._idle_connection_is_dead(conn):
            return conn
        with self._connect_lock:
            if self._closed:
                raise ConnectionLost("the client is closed", definite=True)
            conn = self._conn
            if conn is not None and conn.alive:
                return conn
            self._readers = [reader for reader in self._readers if reader.is_alive()]
            conn = self._connect(min(timeout, self.connect_timeout))
            self._conn = conn
            return conn

    def _connect(self, timeout: float) -> _Connection:
        host, port = self.address
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as error:
            raise ConnectionLost(
                f"cannot connect to {host}:{port}: {error}", definite=True
            ) from None
        with self._handshaking_lock:
            if self._closed:
                sock.close()
                raise ConnectionLost("the client was closed", definite=True)
            self._handshaking = sock
        try:
            try:
                server_name = self._handshake(sock, time.monotonic() + timeout)
            finally:
                # Unpublished before it is closed: close() never shuts down a reused fd.
                with self._handshaking_lock:
                    self._handshaking = None
            sock.settimeout(None)
            bound_send_stalls(sock, self.send_stall_s)
        except AuthenticationError:
            sock.close()
            raise
        except (OSError, EOFError, FrameError, BadMessage) as error:
            sock.close()
            if self._closed:
                raise ConnectionLost("the client was closed", definite=True) from None
            raise ConnectionLost(
                f"handshake with {host}:{port} failed: {error or type(error).__name__}",
                definite=True,
            ) from None
        conn = _Connection(sock, server_name, self.max_frame_bytes)
        reader = threading.Thread(
            target=self._read_async,
            args=(conn,),
            name=f"rpc-client-{self.name}-async-reader",
            daemon=True,
        )
        self._readers.append(reader)
        self._count("connects")
        reader.start()
        return conn

    def _handshake(self, sock: socket.socket, deadline: float) -> str:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = FrameDecoder(4096)
        welcome = codec.expect(
            codec.unpack(recv_one_frame(sock, decoder, deadline)), codec.WELCOME, 4, "WELCOME"
        )
        _, version, server_name, server_nonce = welcome
        if version != VERSION:
            raise BadMessage(f"server speaks protocol version {version}, this client {VERSION}")
        server_name = str(server_name)
        proof: bytes | None = None  # of the shared secret
        client_nonce: bytes | None = None
        if self._key is not None:
            if not isinstance(server_nonce, bytes):
                raise AuthenticationError(
                    f"server {server_name!r} does not authenticate peers, but this client was "
                    f"given a secret: refusing to talk to an unauthenticated server"
                )
            proof = auth.respond(self._key, auth.CLIENT_LABEL, server_nonce)
            client_nonce = auth.new_nonce()
        response: bytes | list[bytes | None] | None = proof
        if self._control_key is not None and isinstance(server_nonce, bytes):
            response = [proof, auth.respond(self._control_key, auth.CONTROL_LABEL, server_nonce)]
        hello = codec.pack([codec.HELLO, self.name, response, client_nonce])
        sock.sendall(HEADER.pack(len(hello), VERSION) + hello)
        answer = codec.unpack(recv_one_frame(sock, decoder, deadline))
        if type(answer) is list and answer and answer[0] == codec.DENIED:
            hint = (
                "" if self._key is not None else " (it requires a shared secret: pass secret=...)"
            )
            raise AuthenticationError(f"server {server_name!r} refused us: {answer[1:]}{hint}")
        _, proof = codec.expect(answer, codec.READY, 2, "READY")
        if self._key is not None:
            assert client_nonce is not None
            if not auth.verify(self._key, auth.SERVER_LABEL, client_nonce, proof):
                raise AuthenticationError(
                    f"server {server_name!r} could not prove it knows the secret"
                )
        return server_name

    def _read(self, conn: _Connection, waiter: _Waiter | None, deadline: float | None) -> None:
        """Read and dispatch replies (caller holds ``conn.read_lock``).

        Returns when ``waiter`` is done, at ``deadline``, when no asynchronous call has been
        outstanding for ``ASYNC_LINGER_S`` (background reader: ``waiter`` None), or when the
        connection dies.
        """
        sock, decoder = conn.sock, conn.decoder
        # The call table's take, as the dict operation it is (calls.py): the hot path.
        take, observe, tracer = conn.calls.pop, self.clock.observe, self.tracer
        linger_until = 0.0
        try:
            while conn.alive:
                now = time.monotonic()
                if waiter is not None:
                    if waiter.done:
                        return
                    assert deadline is not None, "a blocking reader always has a deadline"
                    wait = deadline - now
                    if wait <= 0:
                        return
                elif not conn.async_outstanding:
                    # Linger: the next asynchronous call is likely to come soon.
                    if not linger_until:
                        linger_until = now + ASYNC_LINGER_S
                    elif now >= linger_until:
                        return
                    wait = linger_until - now
                else:
                    linger_until = 0.0
                    wait = READ_WAIT_S  # re-check now and then whether async calls remain
                new_wait = read_wait_s(conn.read_wait, wait, waiter is not None)
                if new_wait is not None:
                    conn.set_read_wait(new_wait)
                try:
                    chunk = sock.recv(_RECV_BYTES)
                except BlockingIOError:  # the receive timeout: look at the clock again
                    continue
                if not chunk:
                    raise EOFError("the server closed the connection")
                for payload in decoder.feed(chunk):
                    request_id, lamport, ok, value = codec.parse_reply(codec.unpack(payload))
                    now = observe(lamport)
                    slot = take(request_id, None) if request_id is not None else None
                    if tracer is not None:
                        tracer.record(
                            self.name,
                            conn.server_name,
                            "recv",
                            "reply",
                            slot.method if slot is not None else "",
                            request_id or 0,
                            now,
                            "" if slot is not None else "late",
                        )
                    if slot is None:
                        if request_id is None:
                            log.warning(
                                "%s: server could not parse a request: %s", self.name, value
                            )
                        self._count("late")  # a duplicate, or the caller gave up already
                        continue
                    if slot is waiter:  # our own reply: nobody to wake
                        waiter.ok, waiter.value, waiter.done = ok, value, True
                    else:
                        slot.deliver(ok, value)
            # The connection died without a read noticing (a send failed and shut it
            # down): fail its calls now, or their callers would wait out their deadlines.
            self._lose(conn, f"connection to {conn.server_name} was lost")
        except (OSError, EOFError, FrameError, BadMessage) as error:
            self._lose(conn, f"connection to {conn.server_name} broke: {error}")
        except Exception as error:
            # A bug on our side, triggered by what the server sent: fail this connection's
            # calls (they would otherwise wait for a reader that is gone) and reconnect later.
            log.exception("%s: failed to read a reply from %s", self.name, conn.server_name)
            self._lose(conn, f"connection to {conn.server_name} broke: {error!r}")

    def _lose(self, conn: _Connection, reason: str) -> None:
        was_alive = conn.alive
        conn.alive = False
        with contextlib.suppress(OSError):
            conn.sock.shutdown(socket.SHUT_RDWR)
        if was_alive and not self._closed:
            self._count("lost")
        conn.fail_all(reason)

    def _read_async(self, conn: _Connection) -> None:
        """Background reader: holds the read lock only while async calls are outstanding."""
        cond = conn.async_cond
        while True:
            with cond:
                while conn.alive and not conn.async_outstanding:
                    conn.async_reader_waiting = True  # (only then do callers notify)
                    cond.wait()
                    conn.async_reader_waiting = False
            if not conn.alive:
                break
            with conn.read_lock:
                self._read(conn, None, None)
            self._promote(conn)
        with contextlib.suppress(OSError):
            conn.sock.close()

    def _idle_connection_is_dead(self, conn: _Connection) -> bool:
        """Before reusing an idle connection, notice a server that went away meanwhile
        (nobody reads an idle connection), so the next call can reconnect cleanly."""
        if conn.calls or not conn.read_lock.acquire(False):
            return False
        try:
            if not conn.poller.poll(0):
                return False
            try:
                data = conn.sock.recv(1, _PEEK_NOW)
            except BlockingIOError:
                return False
            except OSError:
                data = b""
            if data:
                return False  # a late reply is waiting: the connection is fine
            self._lose(conn, f"connection to {conn.server_name} closed")
            return True
        finally:
            conn.read_lock.release()


class _AsyncCall:
    """One ``call_async``: its Future, its attempts and its retries."""

    __slots__ = (
        "args",
        "attempts",
        "client",
        "conn",
        "counted",
        "deadline",
        "future",
        "method",
        "sent",
        "seq",
        "session",
        "timeout",
    )

    def __init__(
        self,
        client: Client,
        method: str,
        args: tuple,
        timeout: float,
        attempts: Attempts,
        session: ClientSession | None,
        seq: int,
    ) -> None:
        self.client, self.method, self.args = client, method, args
        self.timeout = timeout
        self.attempts = attempts  # the same retry rule as Client.call (calls.py)
        self.session, self.seq = session, seq
        self.future: Future = Future()
        self.sent = True
        self.conn: _Connection | None = None
        self.counted = False  # this attempt is in conn.async_outstanding
        self.deadline: Timer | None = None  # this attempt's expiry on the client's DelayLine

    def attempt(self) -> None:
        """Send now on the open connection, or hand this attempt to the connector."""
        client = self.client
        conn = client._conn
        if (
            conn is None
            or not conn.alive
            or client._connector.busy  # attempts wait to be sent: queue behind them
            or client._idle_connection_is_dead(conn)
        ):
            if not client._connector.hand_over(self):
                closed = ConnectionLost("the client is closed", definite=True)
                self._give_up(self.attempts.give_up(closed))
            return
        self.send_on(conn, self.timeout)

    def send_on(self, conn: _Connection, wait_s: float) -> None:
        """Send this attempt on ``conn``; it expires if no reply comes in ``wait_s``."""
        client = self.client
        self.sent = True
        self.conn = conn
        with conn.async_lock:  # counted before sending, so a reader is sure to be there
            conn.async_outstanding += 1
            self.counted = True
            if conn.async_reader_waiting:
                conn.async_cond.notify()  # wake the background reader
        try:
            request_id = client._send(conn, self.method, self.args, self.session, self.seq, self)
        except RpcError as error:
            self.fail(error)
            return
        except (TypeError, ValueError) as error:  # unsendable arguments: the caller's mistake
            self._uncount()
            self._finish_error(error)
            return
        self.deadline = client._delay_line.schedule(
            wait_s, client._expire, conn, request_id, self, self.timeout
        )
        if self.deadline is None:
            # Closed meanwhile: nobody would ever expire this attempt, so fail it now.
            if conn.calls.take(request_id) is self:
                self.fail(connection_lost("the client was closed", self.sent))
        elif not conn.calls.holds(request_id, self):
            # Answered before its deadline was even set: that deadline is moot already.
            self.client._delay_line.cancel(self.deadline)

    def _uncount(self) -> None:
        # The attempt is over: its deadline no longer matters (see DelayLine.cancel).
        if self.deadline is not None:
            self.client._delay_line.cancel(self.deadline)
            self.deadline = None
        conn = self.conn
        if conn is not None and self.counted:
            with conn.async_lock:
                if self.counted:
                    self.counted = False
                    conn.async_outstanding -= 1

    def deliver(self, ok: bool, value: Any) -> None:
        self._uncount()
        outcome = outcome_of_reply(ok, value)
        if isinstance(outcome, RpcError):
            self.fail(outcome)  # the same decision as Client.call's (a server answer: give up)
        else:
            self._finish(outcome)

    def fail(self, error: RpcError) -> None:
        self._uncount()
        decision = self.attempts.after_failure(error)
        if decision is RETRY:
            self.client._count("retries")
            # The connector sends the retry: a reader or the timer thread must never
            # connect, and the connection is likely gone.
            if self.client._connector.hand_over(self):
                return
            closed = ConnectionLost("the client was closed", definite=error.definite)
            decision = self.attempts.give_up(closed)
        assert isinstance(decision, GiveUp)
        self._give_up(decision)

    def _give_up(self, decision: GiveUp) -> None:
        if decision.renew_session:
            self.client._renew_session(self.session)
        self._finish_error(decision.error)

    def _finish(self, value: Any) -> None:
        if self.session is not None:
            self.session.end(self.seq)
        if not self.future.done():
            self.future.set_result(value)

    def _finish_error(self, error: BaseException) -> None:
        if self.session is not None:
            self.session.end(self.seq)
        if not self.future.done():
            self.future.set_exception(error)


class _Connector:
    """The one thread of a Client that connects for asynchronous calls, then sends them.

    ``hand_over`` queues an attempt that found no open connection (or a retry); the
    thread, started at the first hand-over, connects with ``Client._connection`` and sends
    the waiting attempts in the order they were handed over. A waiting attempt's deadline
    is kept on the client's DelayLine like a sent one's: its timeout bounds the whole
    attempt, waiting included. Whoever removes an attempt from ``_waiting`` (the thread,
    its deadline, or ``stop``) ends its wait; the others find it gone.
    """

    def __init__(self, client: Client) -> None:
        self._client = client
        self._cond = threading.Condition()
        # Attempt -> the moment its timeout runs out; a dict keeps the hand-over order.
        self._waiting: dict[_AsyncCall, float] = {}
        self._thread: threading.Thread | None = None
        self._closed = False
        # Attempts are waiting or being sent: a new one must queue behind them, or it could
        # overtake them. Read without the lock by ``_AsyncCall.attempt``: a caller that saw
        # it set by its own hand-over sees it cleared only after that attempt was sent.
        self.busy = False

    def hand_over(self, call: _AsyncCall) -> bool:
        """Queue ``call``'s attempt; False, and nothing queued, once closed."""
        client = self._client
        expires_at = time.monotonic() + call.timeout
        with self._cond:
            if self._closed:
                return False
            deadline = client._delay_line.schedule(call.timeout, self._expire, call)
            if deadline is None:
                return False
            call.deadline = deadline
            self._waiting[call] = expires_at
            self.busy = True
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"rpc-client-{client.name}-connector", daemon=True
                )
                self._thread.start()
            else:
                self._cond.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._waiting and not self._closed:
                    self.busy = False
                    self._cond.wait()
                if self._closed:
                    return
                # Long enough for the most patient waiting attempt.
                budget = max(self._waiting.values()) - time.monotonic()
            try:
                self._connect_and_send(budget)
            except Exception:  # a bug must not stop the thread: later calls would queue forever
                log.exception("%s: the connector failed", self._client.name)

    def _connect_and_send(self, budget: float) -> None:
        """Connect within ``budget`` seconds, then send (or fail) every waiting attempt."""
        client = self._client
        if budget <= 0:  # all of them are about to expire: no connect is worth it
            for call, _ in self._take_all():
                self._fail_unsent(call)
            return
        try:
            conn = client._connection(budget)
        except RpcError as error:
            for call, _ in self._take_all():
                call.fail(error)  # a retry is handed over again, behind the others
            return
        for call, expires_at in self._take_all():
            remaining = expires_at - time.monotonic()
            if remaining > 0:
                call.send_on(conn, remaining)
            else:
                self._fail_unsent(call)

    def _take_all(self) -> list[tuple[_AsyncCall, float]]:
        """End the wait of every waiting attempt, oldest first."""
        with self._cond:
            taken = list(self._waiting.items())
            self._waiting.clear()
        delay_line = self._client._delay_line
        for call, _ in taken:
            if call.deadline is not None:
                delay_line.cancel(call.deadline)  # a running expiry will find it gone
                call.deadline = None
        return taken

    def _expire(self, call: _AsyncCall) -> None:
        """A waiting attempt's deadline (runs on the timer thread)."""
        with self._cond:
            if self._waiting.pop(call, None) is None:
                return  # taken by the thread or by close meanwhile
        call.deadline = None
        self._fail_unsent(call)

    def _fail_unsent(self, call: _AsyncCall) -> None:
        client = self._client
        host, port = client.address
        client._count("timeouts")
        call.fail(
            timed_out(
                call.method,
                client.server_name or f"{host}:{port}",
                call.timeout,
                sent=False,
                unsent_because="no connection was made in time",
            )
        )

    def stop(self) -> None:
        """Fail the waiting attempts and refuse new ones; the thread ends soon after."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for call, _ in self._take_all():
            closed = ConnectionLost("the client was closed", definite=True)
            call._give_up(call.attempts.give_up(closed))

    def join(self) -> None:
        """Wait for the thread to end (after ``stop``)."""
        with self._cond:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
