"""The RPC server: serves the public methods of registered objects as "Name.method".

One thread accepts connections; each connection gets a reader thread that cuts the byte
stream into frames and runs each request's handler *inline* — no hand-over to another
thread on the fast path — then sends the reply under the connection's send lock. So that
a slow handler never stalls other calls (not even other calls multiplexed on the same
connection), a watchdog hands the connection's *reading role* to a pool thread once a
handler has run for ``handoff_after`` seconds (10 ms by default); the slow thread
finishes its call and returns to the pool.

What it must never do: crash, wedge or run out of memory because of what a peer sends.
Every frame is size-checked before buffering (``framing``), decoded only to plain data
(``codec``), shape-checked, and a frame left half-sent for ``frame_timeout`` seconds
closes its connection (slow-loris). Memory a peer can make the server hold is bounded:
unfinished frames of all connections together (``max_buffered_bytes``), connections
(``max_connections``, ``max_connections_per_peer``, idle ones closed after
``idle_timeout_s``), and the at-most-once table (``DuplicateTable.max_bytes``).
Unauthenticated peers get no service. Errors in a handler become error replies; the
connection stays usable.

Where it fits: a node (``distlab.cluster``) runs one Server with its services; the
built-in ``Fault`` service lets a controller change the node's FaultPolicy at run time.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import queue
import socket
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.rpc import auth, codec
from distlab.rpc._io import SEND_STALL_S, bound_send_stalls, checked_send_stall, recv_one_frame
from distlab.rpc.at_most_once import (
    Cached,
    DuplicateTable,
    DuplicateTableStatistics,
    Execute,
    Expired,
    InProgress,
    Stale,
)
from distlab.rpc.codec import REPLY, BadMessage
from distlab.rpc.delay_line import DelayLine
from distlab.rpc.faults import FAULT_METHOD_PREFIX, FAULT_SERVICE, FaultControl, FaultPolicy
from distlab.rpc.framing import (
    DEFAULT_MAX_FRAME_BYTES,
    HEADER,
    VERSION,
    FrameDecoder,
    FrameError,
)
from distlab.rpc.trace import LamportClock, Tracer

log = logging.getLogger("distlab.rpc")

# --- The concurrency trick, and what justifies it ---------------------------------------
# Inline handlers with a watchdog (``_reader_loop``, ``_watch``). The plain design hands
# each request from the connection's reader to a pool thread: a thread wake-up per call,
# which the client side shows to be the expensive part (client.py's header: a reply
# handed over by a reader thread costs about 3x the CPU of one read by its caller). Here
# the reader runs the handler itself. The price: a slow handler would stall every later
# request on its connection, so the watchdog (one thread per server) gives the *reading
# role* to a pool thread once a handler has run for ``handoff_after`` (10 ms). The
# ``token`` in ``_Connection`` says which thread holds the role; a thread whose token is
# stale leaves when its handler returns. The watchdog polls only while calls arrive and
# sleeps on a condition after a quiet second (waking every ``idle_timeout_s / 2`` to
# close idle connections), so a quiet server costs nothing.
# What it buys is visible in benchmarks/rpc_bench.py as the server's CPU per call: 12-14
# us for distlab against 6 us for "raw-echo" (no ids, no dispatch, no threads) and 10-12
# us for multiprocessing.connection (--pin same, 7 Dec 2026). No A/B against a
# pool-per-request server was run. That the hand-off keeps other calls flowing is tested
# by test_slow_handler_does_not_stall_other_calls_on_the_same_connection.

_RECV_BYTES = 65536  # below malloc's mmap threshold: a bigger buffer costs an mmap per recv


class _OverBufferBudget(Exception):
    """Unfinished frames of all connections together exceed ``max_buffered_bytes``."""


def _salvage_id(message: Any) -> int | None:
    """The request id of a malformed request, if it has one: its error reply then
    reaches the caller that sent it instead of timing out."""
    if type(message) is list and len(message) > 1:
        candidate = message[1]
        if type(candidate) is int and 0 <= candidate <= codec.MAX_REQUEST_ID:
            return candidate
    return None


def _encoded_size(reply: list) -> int:
    try:
        return len(codec.pack(reply))
    except (TypeError, ValueError, OverflowError):
        return 0  # unsendable: _send_reply replaces it with a short error


@dataclass(frozen=True)
class ServerStatistics:
    """What the server has done so far."""

    connections_open: int
    connections_accepted: int
    connections_refused: int
    auth_failures: int
    calls: int
    errors: int
    bad_frames: int
    slow_frames_closed: int
    workers: int
    duplicate_table: DuplicateTableStatistics
    idle_closed: int = 0
    idle_kept_for_handlers: int = 0
    over_buffer_budget_closed: int = 0
    buffered_bytes: int = 0


class _Connection:
    """One accepted connection: its socket, its peer's name, a send lock, and who reads it.

    Exactly one thread at a time holds the *reading role* (the one whose ``token``
    equals ``self.token``). It runs handlers inline; if one takes longer than
    ``handoff_after``, the watchdog gives the role to another thread (``token += 1``)
    and the slow one leaves when its handler returns.
    """

    __slots__ = (
        "alive",
        "backlog",
        "buffered_bytes",
        "busy_since",
        "control",
        "deadline",
        "decoder",
        "last_active",
        "peer",
        "peer_address",
        "peer_host",
        "role_lock",
        "send_lock",
        "slow_handlers",
        "sock",
        "token",
    )

    def __init__(self, sock: socket.socket, peer_address: Any, max_frame_bytes: int) -> None:
        self.sock = sock
        self.peer = "?"
        self.peer_address = peer_address
        self.peer_host = str(peer_address[0]) if isinstance(peer_address, tuple) else "?"
        self.send_lock = threading.Lock()
        self.role_lock = threading.Lock()
        self.alive = True
        self.token = 0
        self.control = False  # proved the control secret at the handshake
        self.busy_since = 0.0  # when the reading thread started a handler (0: not in one)
        self.last_active = time.monotonic()  # when a handler last started (idle timeout)
        self.decoder = FrameDecoder(max_frame_bytes)
        self.backlog: deque[bytes] = deque()  # decoded frames not yet handled
        self.deadline = 0.0  # when a half-received frame must be complete (0: none)
        self.buffered_bytes = 0  # this connection's share of Server._buffered_total
        # Handlers the watchdog left running when it moved the reading role elsewhere
        # (under role_lock), so the idle check never closes a connection that waits for
        # a slow handler's reply. The handler being run by the reader shows in busy_since.
        self.slow_handlers = 0

    def send(self, frame: bytes) -> None:
        # One buffer, one sendall, under the lock: frames from workers never interleave.
        try:
            with self.send_lock:
                self.sock.sendall(frame)
        except OSError:  # the client is gone or stopped reading (a stalled send, _io.py):
            self.shutdown()  # the reading thread's recv ends, and the connection with it

    def shutdown(self) -> None:
        self.alive = False
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)


class _WorkerPool:
    """Threads that take over a connection's reading role; grow on demand up to ``max_workers``."""

    def __init__(self, max_workers: int, name: str) -> None:
        self._max = max_workers
        self._name = name
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0
        self._threads: list[threading.Thread] = []

    def submit(self, fn: Callable[..., None], *args: Any) -> None:
        with self._lock:
            if self._idle > 0:
                self._idle -= 1  # reserve an idle worker for this item
            elif len(self._threads) < self._max:
                thread = threading.Thread(
                    target=self._work, name=f"{self._name}-worker-{len(self._threads)}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
            # else: every worker is busy; the item waits in the queue.
        self._queue.put((fn, args))

    def _work(self) -> None:
        get = self._queue.get
        while True:
            item = get()
            if item is None:
                return
            fn, args = item
            try:
                fn(*args)
            except Exception:  # a bug in the server's own code: log it, keep the worker
                log.exception("rpc worker failed")
            with self._lock:
                self._idle += 1

    @property
    def size(self) -> int:
        return len(self._threads)

    def close(self, timeout: float) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                log.warning("%s is still running a handler after close()", thread.name)


class Server:
    """Serves registered objects over TCP. See docs/CONTRACTS.md and docs/WIRE_FORMAT.md.

    Binding an address other than loopback requires ``secret`` (refuses to start
    without). With a ``secret``, every peer must pass the HMAC challenge at connect
    (also on loopback, if one is given).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        name: str = "server",
        secret: str | bytes | None = None,
        policy: FaultPolicy | None = None,
        tracer: Tracer | None = None,
        *,
        clock: LamportClock | None = None,
        max_workers: int = 64,
        max_connections: int = 256,
        max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES,
        frame_timeout: float = 10.0,
        handshake_timeout: float = 5.0,
        handoff_after: float = 0.01,
        duplicate_table: DuplicateTable | None = None,
        max_connections_per_peer: int = 64,
        max_buffered_bytes: int = 64 * 1024 * 1024,
        idle_timeout_s: float | None = 600.0,
        control_secret: str | bytes | None = None,
        control_methods: tuple[str, ...] = ("Fault.set", "Fault.reset", "Node.set_peers"),
        send_stall_s: float = SEND_STALL_S,
    ) -> None:
        # A reply that cannot move drops its connection (_io.bound_send_stalls).
        self.send_stall_s = checked_send_stall(send_stall_s)
        self._key = auth.as_key(secret)
        # With a control secret, `control_methods` are served only on connections that
        # proved it (a cluster's per-run secret: another local user cannot cut its network).
        self._control_key = auth.as_key(control_secret)
        self.control_methods = frozenset(control_methods)
        if self._key is None and not auth.is_loopback(host):
            raise ValueError(
                f"refusing to serve on {host!r} without a shared secret: any machine that "
                f"can reach it could call every method; pass secret=... (or bind 127.0.0.1)"
            )
        self.host, self.port, self.name = host, port, name
        self.policy = policy if policy is not None else FaultPolicy()
        self.tracer = tracer
        self.clock = clock if clock is not None else LamportClock()
        self.max_connections = max_connections
        # Per peer *address*: every process on this machine shares 127.0.0.1, so the
        # default leaves room for a whole local cluster's clients.
        self.max_connections_per_peer = max_connections_per_peer
        # Total bytes of unfinished frames over all connections: without it, every
        # connection could hold a frame of max_frame_bytes - 1 (256 x 16 MiB).
        self.max_buffered_bytes = max_buffered_bytes
        self.idle_timeout_s = idle_timeout_s  # None: idle connections stay open
        self._buffered_total = 0
        self._per_peer: dict[str, int] = {}
        self.max_frame_bytes = max_frame_bytes
        self.frame_timeout = frame_timeout
        self.handshake_timeout = handshake_timeout
        self.handoff_after = handoff_after
        self._last_activity = 0.0
        self._watch_idle = False
        self._watch_cond = threading.Condition()
        self._watchdog: threading.Thread | None = None
        self._methods: dict[str, Callable[..., Any]] = {}
        # Methods that need a look before they run: control methods (which need the
        # control secret) and the Fault service (run inline, never faulted).
        self._guarded: frozenset[str] = frozenset()
        self._services: set[str] = set()
        self._table = duplicate_table if duplicate_table is not None else DuplicateTable()
        self._table_lock = threading.Lock()
        self._pool = _WorkerPool(max_workers, f"rpc-{name}")
        self._delay_line = DelayLine(f"rpc-{name}-delay")
        self._lock = threading.Lock()
        self._connections: dict[_Connection, threading.Thread] = {}
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._closed = False
        self._counts = dict.fromkeys(
            (
                "accepted",
                "refused",
                "auth_failures",
                "calls",
                "errors",
                "bad_frames",
                "slow",
                "idle",
                "idle_kept",
                "over_budget",
            ),
            0,
        )
        self.address: tuple[str, int] = (host, port)
        self.register(FaultControl(self.policy), FAULT_SERVICE)

    # -- services -----------------------------------------------------------------------
    def register(self, obj: object, name: str | None = None) -> None:
        """Serve ``obj``'s public methods (no leading "_") as ``"<name>.<method>"``.

        ``name`` defaults to the class name. Handlers run on worker threads, several at
        once: protect shared state with a lock.
        """
        name = name or type(obj).__name__
        if "." in name or not name:
            raise ValueError(f"service name {name!r} must be non-empty and contain no '.'")
        if name in self._services:
            raise ValueError(f"a service named {name!r} is already registered")
        methods = {}
        for attribute in dir(obj):
            if attribute.startswith("_"):
                continue
            value = getattr(obj, attribute)
            if callable(value):
                methods[f"{name}.{attribute}"] = value
        if not methods:
            raise ValueError(f"{type(obj).__name__} has no public methods to serve as {name!r}")
        self._services.add(name)
        self._methods.update(methods)
        self._guarded = frozenset(
            method
            for method in self._methods
            if method in self.control_methods or method.startswith(FAULT_METHOD_PREFIX)
        )

    def methods(self) -> list[str]:
        """Every served method name, sorted."""
        return sorted(self._methods)

    # -- life cycle ---------------------------------------------------------------------
    def start(self) -> Server:
        """Bind, listen and start accepting; returns self (``server.address`` is real)."""
        if self._listener is not None:
            raise RuntimeError("start() called twice on the same Server")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        # SO_REUSEADDR: a restarted node can bind its old port while old sockets linger.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
            listener.listen(128)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self.address = listener.getsockname()[:2]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"rpc-{self.name}-accept", daemon=True
        )
        self._accept_thread.start()
        self._watchdog = threading.Thread(
            target=self._watch, name=f"rpc-{self.name}-watchdog", daemon=True
        )
        self._watchdog.start()
        return self

    def close(self, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection, join every thread the server started."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            connections = dict(self._connections)
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept() on Linux
            self._listener.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        with self._watch_cond:
            self._watch_cond.notify_all()
        if self._watchdog is not None:
            self._watchdog.join(timeout)
        for connection in connections:
            connection.shutdown()
        for thread in connections.values():
            thread.join(timeout)
        self._delay_line.close()
        self._pool.close(timeout)

    def __enter__(self) -> Server:
        return self if self._listener is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def statistics(self) -> ServerStatistics:
        """Counters and sizes (connections, calls, errors, refusals, duplicate table)."""
        with self._table_lock:
            table = self._table.statistics()
        with self._lock:
            c = self._counts
            return ServerStatistics(
                connections_open=len(self._connections),
                connections_accepted=c["accepted"],
                connections_refused=c["refused"],
                auth_failures=c["auth_failures"],
                calls=c["calls"],
                errors=c["errors"],
                bad_frames=c["bad_frames"],
                slow_frames_closed=c["slow"],
                workers=self._pool.size,
                duplicate_table=table,
                idle_closed=c["idle"],
                idle_kept_for_handlers=c["idle_kept"],
                over_buffer_budget_closed=c["over_budget"],
                buffered_bytes=self._buffered_total,
            )

    def _count(self, key: str) -> None:
        with self._lock:
            self._counts[key] += 1

    # -- connections --------------------------------------------------------------------
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while True:
            try:
                sock, peer_address = self._listener.accept()
            except OSError:
                return  # the listener was closed
            connection = _Connection(sock, peer_address, self.max_frame_bytes)
            host = connection.peer_host
            with self._lock:
                from_peer = self._per_peer.get(host, 0)
                if (
                    self._closed
                    or len(self._connections) >= self.max_connections
                    or from_peer >= self.max_connections_per_peer
                ):
                    self._counts["refused"] += 1
                    refuse = True
                else:
                    refuse = False
                    self._counts["accepted"] += 1
                    self._per_peer[host] = from_peer + 1
                    thread = threading.Thread(
                        target=self._serve_connection,
                        args=(connection,),
                        name=f"rpc-{self.name}-conn",
                        daemon=True,
                    )
                    self._connections[connection] = thread
            if refuse:
                log.warning(
                    "%s: refusing connection from %s (limit reached: %d in all, %d per peer)",
                    self.name,
                    peer_address,
                    self.max_connections,
                    self.max_connections_per_peer,
                )
                sock.close()
            else:
                thread.start()

    def _serve_connection(self, connection: _Connection) -> None:
        sock = connection.sock
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # half-open peers
            authenticated = self._handshake(connection, connection.peer_address)
        except OSError as error:
            log.info("%s: handshake with %s failed: %s", self.name, connection.peer_address, error)
            authenticated = False
        except (FrameError, BadMessage) as error:
            self._count("bad_frames")
            log.warning("%s: bad handshake from %s: %s", self.name, connection.peer_address, error)
            authenticated = False
        if authenticated:
            # Blocking, no timeout: a socket with a timeout polls before every recv and
            # send (two more system calls per call: +1 us of CPU per recv/send pair in a
            # socketpair loop, about 5% of the server's share of a call). The watchdog
            # closes idle connections instead (_close_idle). A client that stops reading
            # its replies does not pin a thread here: a stalled send fails (_io.py).
            sock.settimeout(None)
            bound_send_stalls(sock, self.send_stall_s)
            connection.last_active = time.monotonic()
            self._reader_loop(connection, 0)
        else:
            self._drop_connection(connection)

    def _drop_connection(self, connection: _Connection) -> None:
        connection.alive = False
        with contextlib.suppress(OSError):
            connection.sock.close()
        with self._lock:
            self._buffered_total -= connection.buffered_bytes
            connection.buffered_bytes = 0
            if self._connections.pop(connection, None) is not None:
                left = self._per_peer.get(connection.peer_host, 1) - 1
                if left > 0:
                    self._per_peer[connection.peer_host] = left
                else:
                    self._per_peer.pop(connection.peer_host, None)

    def _handshake(self, connection: _Connection, peer: Any) -> bool:
        sock = connection.sock
        deadline = time.monotonic() + self.handshake_timeout
        sock.settimeout(self.handshake_timeout)
        nonce = auth.new_nonce() if (self._key or self._control_key) is not None else None
        welcome = codec.pack([codec.WELCOME, VERSION, self.name, nonce])
        sock.sendall(HEADER.pack(len(welcome), VERSION) + welcome)
        try:
            # A HELLO is tiny: a small limit here means an unauthenticated peer can never
            # make the server buffer more than 4 KiB.
            payload = recv_one_frame(sock, FrameDecoder(4096), deadline)
        except TimeoutError:
            log.warning("%s: peer %s did not finish the handshake in time", self.name, peer)
            return False
        except EOFError:
            return False
        hello = codec.expect(codec.unpack(payload), codec.HELLO, 4, "HELLO")
        _, client_name, response, client_nonce = hello
        connection.peer = str(client_name)[:200]
        reply_proof = None
        if type(response) is list and len(response) == 2:
            response, control_proof = response
            connection.control = (
                self._control_key is not None
                and nonce is not None
                and auth.verify(self._control_key, auth.CONTROL_LABEL, nonce, control_proof)
            )
        if self._key is not None:
            assert nonce is not None
            if not auth.verify(self._key, auth.CLIENT_LABEL, nonce, response):
                self._count("auth_failures")
                log.warning(
                    "%s: authentication failed for peer %s (claims name %r); no service",
                    self.name,
                    peer,
                    connection.peer,
                )
                denied = codec.pack([codec.DENIED, "authentication failed"])
                sock.sendall(HEADER.pack(len(denied), VERSION) + denied)
                return False
            if isinstance(client_nonce, bytes):
                reply_proof = auth.respond(self._key, auth.SERVER_LABEL, client_nonce)
        ready = codec.pack([codec.READY, reply_proof])
        sock.sendall(HEADER.pack(len(ready), VERSION) + ready)
        return True

    def _reader_loop(self, connection: _Connection, token: int) -> None:
        """Read and handle frames while holding the reading role (see ``_Connection``)."""
        sock, decoder = connection.sock, connection.decoder
        backlog = connection.backlog
        handle = self._handle_frame
        try:
            while True:
                if not backlog:
                    chunk = sock.recv(_RECV_BYTES)
                    if not chunk:
                        break
                    backlog.extend(decoder.feed(chunk))
                    if decoder.partial or connection.deadline or connection.buffered_bytes:
                        self._frame_deadline(connection)  # a frame in pieces: slow path
                    continue
                try:
                    job = handle(connection, backlog.popleft())
                except Exception:
                    # A bug on our side, triggered by this frame: the frame is lost (its
                    # caller times out) but this connection and every other keeps serving.
                    self._count("bad_frames")
                    log.exception(
                        "%s: failed to handle a frame from %s", self.name, connection.peer
                    )
                    continue
                if job is None:
                    continue
                # Run the handler inline (no hand-over to another thread on the fast
                # path); the watchdog moves the reading role elsewhere if it is slow.
                now = time.monotonic()
                connection.busy_since = now
                connection.last_active = now
                self._last_activity = now
                if self._watch_idle:
                    with self._watch_cond:
                        self._watch_cond.notify()
                try:
                    self._run(*job)
                except Exception:  # as above: never let one call end the reading thread
                    self._count("errors")
                    log.exception("%s: failed to answer %s", self.name, job[2])
                with connection.role_lock:
                    if connection.token != token:
                        connection.slow_handlers -= 1
                        return  # another thread reads this connection now
                    connection.busy_since = 0.0
        except TimeoutError:
            # A frame started but did not finish in time: slow-loris or a dead peer.
            self._count("slow")
            log.warning(
                "%s: %s left a frame unfinished for %.1f s; closing",
                self.name,
                connection.peer,
                self.frame_timeout,
            )
        except OSError as error:
            if connection.alive:
                log.info("%s: connection from %s failed: %s", self.name, connection.peer, error)
        except FrameError as error:
            self._count("bad_frames")
            log.warning("%s: closing connection from %s: %s", self.name, connection.peer, error)
        except _OverBufferBudget:
            self._count("over_budget")
            log.warning(
                "%s: closing connection from %s: unfinished frames on all connections "
                "would exceed %d bytes",
                self.name,
                connection.peer,
                self.max_buffered_bytes,
            )
        self._drop_connection(connection)

    def _frame_deadline(self, connection: _Connection) -> None:
        # A half-received frame has a deadline for the whole frame (not each byte, so
        # trickling one byte at a time does not help); between frames the socket has no
        # timeout (see _serve_connection). Only transitions touch the socket: the fast
        # path (whole frames) does nothing.
        buffered = connection.decoder.buffered_bytes
        if buffered != connection.buffered_bytes:
            self._account_buffered(connection, buffered)
        if connection.decoder.partial:
            now = time.monotonic()
            if connection.deadline == 0.0:
                connection.deadline = now + self.frame_timeout
            connection.sock.settimeout(max(connection.deadline - now, 0.001))
        elif connection.deadline != 0.0:
            connection.deadline = 0.0
            connection.sock.settimeout(None)

    def _account_buffered(self, connection: _Connection, buffered: int) -> None:
        with self._lock:
            self._buffered_total += buffered - connection.buffered_bytes
            connection.buffered_bytes = buffered
            over = self._buffered_total > self.max_buffered_bytes
        if over:
            # The connection whose frame crossed the line is closed (its bytes are
            # released by _drop_connection); the others keep their partial frames.
            raise _OverBufferBudget

    def _watch(self) -> None:
        """Hand a connection's reading role to a pool thread when its handler is slow.

        Polls every ``handoff_after / 2`` seconds while calls arrive; sleeps on a
        condition after a quiet second, so an idle server costs nothing.
        """
        cond = self._watch_cond
        # Idle connections are looked for twice per idle_timeout_s, also while the server
        # is quiet (then the condition wait times out instead of waiting for a call).
        idle_check_s = self.idle_timeout_s / 2 if self.idle_timeout_s is not None else None
        next_idle_check = time.monotonic()
        while True:
            with cond:
                if self._closed:
                    return
                if time.monotonic() - self._last_activity > 1.0:
                    self._watch_idle = True
                    # Re-check after publishing the flag: a reader that set
                    # _last_activity before seeing it would not notify us.
                    if time.monotonic() - self._last_activity > 1.0:
                        cond.wait(idle_check_s)
                    self._watch_idle = False
                    quiet = True
                else:
                    quiet = False
            now = time.monotonic()
            if idle_check_s is not None and now >= next_idle_check:
                next_idle_check = now + idle_check_s
                self._close_idle(now)
            if quiet:
                continue
            time.sleep(self.handoff_after / 2)
            now = time.monotonic()
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with connection.role_lock:
                    since = connection.busy_since
                    if not since or now - since < self.handoff_after or not connection.alive:
                        continue
                    connection.token += 1
                    connection.busy_since = 0.0
                    connection.slow_handlers += 1  # until it returns (see _reader_loop)
                    token = connection.token
                self._pool.submit(self._reader_loop, connection, token)

    def _close_idle(self, now: float) -> None:
        """Close connections on which no handler has started for ``idle_timeout_s``.

        A connection with a handler still running is kept (its caller waits for the
        reply), and so is one with half a frame in (``frame_timeout`` judges that).
        Shutting the socket down wakes its reader, which drops the connection.
        """
        assert self.idle_timeout_s is not None
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            if not connection.alive or now - connection.last_active < self.idle_timeout_s:
                continue
            if connection.slow_handlers or connection.busy_since or connection.decoder.partial:
                self._count("idle_kept")
                continue
            self._count("idle")
            log.info(
                "%s: closing the connection from %s, idle for %s s",
                self.name,
                connection.peer,
                self.idle_timeout_s,
            )
            connection.shutdown()

    # -- requests -----------------------------------------------------------------------
    def _handle_frame(self, connection: _Connection, payload: bytes) -> tuple | None:
        """Decode and route one request; return the handler job to run, if any."""
        message = None
        try:
            message = codec.unpack(payload)
            request_id, lamport, method, args, session = codec.parse_request(message)
        except BadMessage as error:
            self._count("bad_frames")
            self._reply_error(
                connection, _salvage_id(message), "", "bad_request", "BadRequest", str(error)
            )
            return None
        now = self.clock.observe(lamport)
        if self.tracer is not None:
            self.tracer.record(
                self.name, connection.peer, "recv", "request", method, request_id, now
            )
        fn = self._methods.get(method)
        if fn is not None and session is None and method not in self._guarded:
            return (connection, request_id, method, fn, args, None)  # the common case
        if fn is None:
            service = method.partition(".")[0]
            known = "service" if service in self._services else "no service"
            self._reply_error(
                connection,
                request_id,
                method,
                "unknown_method",
                "UnknownMethod",
                f"{self.name} has no method {method!r} ({known} {service!r}; "
                f"methods: {', '.join(self.methods())[:500]})",
            )
            return None
        if (
            self._control_key is not None
            and method in self.control_methods
            and not connection.control
        ):
            self._count("auth_failures")  # a control call without the control secret
            self._reply_error(
                connection,
                request_id,
                method,
                "unauthorized",
                "Unauthorized",
                f"{method} on {self.name} is for the cluster's controller: this connection "
                "did not prove the cluster's control secret",
            )
            return None
        if method.startswith(FAULT_METHOD_PREFIX):
            # The control service runs inline and is never faulted (see faults.py).
            self._run(connection, request_id, method, fn, args, None)
            return None
        if session is not None:
            client_id, seq, ack = session
            with self._table_lock:
                decision = self._table.begin(client_id, seq, ack, (connection, request_id))
            if isinstance(decision, Cached):
                self._send_reply(connection, request_id, method, decision.reply)
                return None
            if isinstance(decision, (InProgress, Stale)):
                return None  # joined the running call, or an acknowledged copy: never run twice
            if isinstance(decision, Expired):
                self._reply_error(
                    connection,
                    request_id,
                    method,
                    "session_expired",
                    "SessionExpired",
                    f"{self.name} no longer remembers client {client_id!r}; the call may "
                    f"have run before: not running it again",
                )
                return None
            assert isinstance(decision, Execute)
        return (connection, request_id, method, fn, args, session)

    def _run(
        self,
        connection: _Connection,
        request_id: int,
        method: str,
        fn: Callable[..., Any],
        args: list,
        session: tuple[str, int, int] | None,
    ) -> None:
        try:
            result = fn(*args)
            reply = [True, result]
        except TypeError as error:
            reply = [False, self._type_error_value(method, fn, args, error)]
        except Exception as error:
            reply = [
                False,
                codec.error_value(
                    "remote", type(error).__name__, str(error), traceback.format_exc()
                ),
            ]
        with self._lock:
            self._counts["calls"] += 1
            if not reply[0]:
                self._counts["errors"] += 1
        others = []
        if session is not None:
            reply_bytes = _encoded_size(reply)  # what keeping it costs (at_most_once rule 4)
            with self._table_lock:
                others = self._table.finish(session[0], session[1], reply, reply_bytes)
        self._send_reply(connection, request_id, method, reply)
        for other_connection, other_id in others:
            self._send_reply(other_connection, other_id, method, reply)

    @staticmethod
    def _type_error_value(
        method: str, fn: Callable[..., Any], args: list, error: TypeError
    ) -> list:
        # A TypeError raised while *binding* arguments means the handler never started.
        try:
            signature = inspect.signature(fn)
            signature.bind(*args)
        except TypeError as bind_error:
            return codec.error_value(
                "bad_arguments",
                "BadArguments",
                f"{method}{signature} called with {len(args)} argument(s): {bind_error}",
            )
        except ValueError:  # no signature available (some builtins): cannot tell
            pass
        return codec.error_value("remote", "TypeError", str(error), traceback.format_exc())

    def _reply_error(
        self,
        connection: _Connection,
        request_id: int | None,
        method: str,
        kind: str,
        type_name: str,
        message: str,
    ) -> None:
        self._send_reply(
            connection, request_id, method, [False, codec.error_value(kind, type_name, message)]
        )

    def _send_reply(
        self, connection: _Connection, request_id: int | None, method: str, reply: list
    ) -> None:
        ok, value = reply
        now = self.clock.tick()
        try:
            payload = codec.pack([REPLY, request_id, now, ok, value])
        except (TypeError, ValueError, OverflowError) as error:
            # Only the handler's value can be unpackable: request_id and now were range
            # checked (codec.MAX_REQUEST_ID, MAX_LAMPORT), so this fallback always packs.
            ok = False
            value = codec.error_value(
                "remote", "TypeError", f"{method} returned a value msgpack cannot carry: {error}"
            )
            payload = codec.pack([REPLY, request_id, now, ok, value])
        if len(payload) > self.max_frame_bytes:
            payload = codec.pack(
                [
                    REPLY,
                    request_id,
                    now,
                    False,
                    codec.error_value(
                        "remote", "ValueError", f"{method}'s reply exceeds the frame limit"
                    ),
                ]
            )
        frame = HEADER.pack(len(payload), VERSION) + payload
        tracer = self.tracer
        if tracer is None and not self.policy.active:
            connection.send(frame)  # a perfect network, nobody tracing: the fast path
            return
        delays: tuple[float, ...]
        if method.startswith(FAULT_METHOD_PREFIX):
            delays, note = (0.0,), ""
        else:
            delays, note = self.policy.plan(self.name, connection.peer, "reply")
        if tracer is not None:
            if delays:
                tracer.record(
                    self.name, connection.peer, "send", "reply", method, request_id or 0, now, note
                )
            else:
                tracer.record(
                    self.name, connection.peer, "drop", "reply", method, request_id or 0, now, note
                )
        for delay in delays:
            if delay > 0:
                self._delay_line.schedule(delay, connection.send, frame)
            else:
                connection.send(frame)
