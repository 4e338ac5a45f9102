"""CoordClient: a ZooKeeper client for distlab's coordination service, shaped like kazoo's.

    with Cluster.start(3, service="coord") as cluster:
        zk = cluster.client(server="n1")          # a session attached to n1
        zk.create("/app", b"v1")
        data, stat = zk.get("/app", watch=lambda event: print(event.type, event.path))
        zk.set("/app", b"v2", version=stat.version)   # a conditional write
        zk.sync("/app"); zk.get("/app")               # a read that is not stale

The method names, arguments, return values (``ZnodeStat``, ``WatchedEvent``) and
exceptions (``NoNodeError``, ``BadVersionError``, ``ConnectionLoss``...) are kazoo's
own, so a recipe written for this client runs unchanged against a real ZooKeeper with a
``kazoo.client.KazooClient`` (`distlab.coord.recipes`, `distlab.engines.zookeeper`).

How it behaves, as ZooKeeper's clients do:

- The session (会话) is attached to *one* server; reads are answered by that server from its
  own copy. The client remembers the newest zxid it has seen and sends it with every read,
  so the server never answers from an older state: FIFO client order.
- A heartbeat every third of the session timeout keeps the session alive and brings watch
  notifications back; watch callbacks run on the client's own event thread, once each.
- When its server stops answering, the client moves to the next server *within the session
  timeout*, bringing its watches along (``Coord.attach``). If it was silent longer, the
  leader has expired the session: every later call raises ``SessionExpiredError``.
- A write that timed out is retried with the same (session, seq), so the tree applies it at
  most once; if it never gets an answer the client raises ``ConnectionLoss``, recorded as
  *indefinite* in the history (it may have happened).

``freeze()`` / ``thaw()`` stop and restart the heartbeats (and any calls): a process paused by
the garbage collector or SIGSTOP, as seen from the service -- the fencing experiment's tool.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo import exceptions as kazoo_errors
from kazoo.protocol.states import EventType, KeeperState, WatchedEvent

from distlab.check.coordination import CoordHistory
from distlab.coord.kazoo_api import KazooAPI
from distlab.rpc import Client

__all__ = ["CoordClient"]

Address = tuple[str, int]
_FIRES = {
    "CREATED": ("data",),
    "CHANGED": ("data",),
    "DELETED": ("data", "child"),
    "CHILD": ("child",),
}
_client_numbers = itertools.count(1)


class _Handler:
    """kazoo's ``client.handler``: how recipes make events and locks that fit the client."""

    @staticmethod
    def event_object() -> threading.Event:
        return threading.Event()

    @staticmethod
    def lock_object() -> threading.Lock:
        return threading.Lock()


def _error(name: str, message: str) -> Exception:
    cls = getattr(kazoo_errors, name, kazoo_errors.ZookeeperError)
    return cls(message)


class CoordClient(KazooAPI):
    """A session with the coordination service (see the module docstring)."""

    def __init__(
        self,
        addresses: Callable[[], dict[str, Address]],
        *,
        server: str | None = None,
        timeout: float = 2.0,
        secret: str | None = None,
        client_id: str | None = None,
        history: CoordHistory | None = None,
        call_timeout: float = 1.0,
    ) -> None:
        self._addresses = addresses
        names = sorted(addresses())
        self._names = names
        self.server = server if server is not None else names[0]
        if self.server not in names:
            raise ValueError(f"no server named {self.server!r} (servers: {names})")
        self.timeout = float(timeout)
        self.name = client_id or f"zk{next(_client_numbers)}"
        self.history = history
        self._secret = secret
        self._call_timeout = call_timeout
        self._rpc: Client | None = None
        self._poll: Client | None = None  # the heartbeat's own connection (a long poll)
        self._poll_server: str | None = None
        self._rpc_lock = threading.RLock()
        # One write at a time per session, as ZooKeeper orders a session's requests: a retry
        # must never follow a later write of the same session (the tree would refuse it).
        self._write_lock = threading.Lock()
        self.handler = _Handler()
        self.session_id = 0
        self.last_zxid = 0
        self._seq = itertools.count(1)
        self._watches: dict[tuple[str, str], list[tuple[Callable[..., Any], int, bool]]] = {}
        self._watch_lock = threading.Lock()
        self._events: queue.Queue[Any] = queue.Queue()
        self._frozen = threading.Event()
        self._thawed = threading.Event()  # the opposite of _frozen, to wait on
        self._thawed.set()
        self._stopped = threading.Event()
        self._expired = False
        self.notifications = 0  # watch callbacks run (the herd effect counts these)
        self._threads: list[threading.Thread] = []

    @classmethod
    def for_cluster(cls, cluster: Any, **options: Any) -> CoordClient:
        """A client of a running ``Cluster`` (``service="coord"``), started."""
        options.setdefault("secret", cluster.secret)
        names = list(cluster.names)
        client = cls(lambda: {name: cluster.address(name) for name in names}, **options)
        client.start()
        return client

    # ----- the session ---------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.session_id != 0 and not self._expired and not self._stopped.is_set()

    @property
    def expired(self) -> bool:
        """True once the service has ended this session (its ephemeral znodes are gone)."""
        return self._expired

    def start(self, timeout: float = 10.0) -> None:
        """Open a session (through the log) and start the heartbeat and event threads."""
        reply = self._call_write(
            {"op": "open_session", "timeout_ms": int(self.timeout * 1000)}, timeout
        )
        self.session_id = int(reply["ok"])
        for target, label in ((self._heartbeats, "heartbeat"), (self._dispatch, "events")):
            thread = threading.Thread(target=target, name=f"{self.name}-{label}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Close the session (its ephemeral znodes are deleted at once) and the threads."""
        if self.session_id and not self._expired and not self._stopped.is_set():
            # If this fails, the session expires on its own after its timeout.
            with contextlib.suppress(kazoo_errors.KazooException):
                self._call_write({"op": "close_session"}, self.timeout)
        self.close()

    def close(self) -> None:
        """Drop the connection without closing the session (it expires after its timeout)."""
        self._stopped.set()
        self.thaw()
        self._events.put(None)
        poll = self._poll
        if poll is not None:
            poll.close()  # wakes the heartbeat thread from its long poll
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5.0)
        with self._rpc_lock:
            if self._rpc is not None:
                self._rpc.close()
                self._rpc = None
            if self._poll is not None:
                self._poll.close()
                self._poll = None

    def freeze(self) -> None:
        """Stop heartbeating and answering, as a process paused by a long GC pause."""
        self._thawed.clear()
        self._frozen.set()

    def thaw(self) -> None:
        """Resume after `freeze` (the service may have expired the session meanwhile)."""
        self._frozen.clear()
        self._thawed.set()

    # ----- calls ---------------------------------------------------------------------

    def _write_raw(self, command: dict[str, Any]) -> dict[str, Any]:
        return self._call_write(command, self.timeout * 2)

    def _call_write(self, command: dict[str, Any], deadline_s: float) -> dict[str, Any]:
        """Send one write until a server answers it (same seq on every retry)."""
        self._check_alive()
        with self._write_lock:
            return self._send_write(command, deadline_s)

    def _send_write(self, command: dict[str, Any], deadline_s: float) -> dict[str, Any]:
        command = {**command, "session": self.session_id, "seq": next(self._seq)}
        deadline = time.monotonic() + deadline_s
        maybe = False
        while True:
            answer = self._call("Coord.write", command, self._call_timeout)
            if answer is not None and "retry" not in answer:
                self._answered(answer)
                return answer
            maybe = maybe or answer is None or not answer.get("definite", False)
            if time.monotonic() > deadline:
                if maybe:
                    raise kazoo_errors.ConnectionLoss(f"{command['op']}: no answer in time")
                raise kazoo_errors.OperationTimeoutError(f"{command['op']}: not applied")
            time.sleep(0.05)

    def _read(self, op: str, path: str, watch: Callable[..., Any] | None) -> Any:
        self._check_alive()
        handle = self._record_read(op, path)
        deadline = time.monotonic() + self.timeout * 2
        while True:
            answer = self._call(
                "Coord.read",
                self.session_id,
                op,
                path,
                watch is not None,
                self.last_zxid,
                self._call_timeout,
            )
            if answer is not None and "retry" not in answer:
                break
            if time.monotonic() > deadline:
                if handle is not None:
                    self.history.complete(handle, "fail")  # type: ignore[union-attr]
                raise kazoo_errors.ConnectionLoss(f"{op}({path}): no server answered")
            time.sleep(0.05)
        zxid = int(answer["zxid"])
        try:
            value = self._answered(answer)
        except kazoo_errors.NoNodeError:
            if handle is not None:
                self.history.complete(handle, "ok", output=None, zxid=zxid)  # type: ignore[union-attr]
            raise
        except kazoo_errors.KazooException:
            if handle is not None:
                self.history.complete(handle, "fail")  # type: ignore[union-attr]
            raise
        if watch is not None:
            kind = "child" if op == "get_children" else "data"
            with self._watch_lock:
                entry = (watch, zxid, value is not None)
                self._watches.setdefault((kind, path), []).append(entry)
        if handle is not None:
            shown = None
            if op == "get":
                shown = bytes(value[0]).decode("utf-8", "replace")
            elif value is not None:
                shown = "exists"
            self.history.complete(handle, "ok", output=shown, zxid=zxid)  # type: ignore[union-attr]
        return value

    def _answered(self, answer: dict[str, Any]) -> Any:
        """Dispatch the notes an answer carries, advance the zxid, raise its error."""
        self._notes(answer.get("notes", ()))
        self.last_zxid = max(self.last_zxid, int(answer.get("zxid", 0)))
        if "error" in answer:
            if answer["error"] == "SessionExpiredError":
                self._expired = True
            raise _error(answer["error"], answer.get("message", ""))
        return answer["ok"]

    def _check_alive(self) -> None:
        if self._expired:
            raise kazoo_errors.SessionExpiredError(f"session {self.session_id} has expired")
        if self._stopped.is_set():
            raise kazoo_errors.ConnectionClosedError("the client was closed")
        self._thawed.wait()  # a paused process does nothing until it is resumed

    def _call(self, method: str, *args: Any) -> dict[str, Any] | None:
        """One RPC to this client's server; None (and the next server) if it failed."""
        with self._rpc_lock:
            try:
                if self._rpc is None:
                    address = self._addresses()[self.server]
                    self._rpc = Client(address, name=self.name, secret=self._secret)
                    if self.session_id:
                        self._attach()
                return self._rpc.call(method, *args, timeout=self._call_timeout + 1.0)
            except Exception as error:  # the server is down, partitioned or lagging
                if isinstance(error, kazoo_errors.KazooException):
                    raise
                self._move_on()
                return None

    def _attach(self) -> None:
        """Bring this session's watches to the server just connected to."""
        assert self._rpc is not None
        with self._watch_lock:
            watches = [
                [kind, path, min(e[1] for e in entries), any(e[2] for e in entries)]
                for (kind, path), entries in self._watches.items()
            ]
        answer = self._rpc.call(
            "Coord.attach", self.session_id, watches, self.last_zxid, timeout=3.0
        )
        if "retry" in answer:
            raise ConnectionError(answer["retry"])
        if answer.get("state") == "expired":
            self._expired = True
        self._notes(answer.get("notes", ()))

    def _move_on(self) -> None:
        if self._rpc is not None:
            self._rpc.close()
            self._rpc = None
        self.server = self._names[(self._names.index(self.server) + 1) % len(self._names)]

    # ----- heartbeats and watch events ---------------------------------------------

    def _heartbeats(self) -> None:
        """Heartbeat by long poll: each ping returns at once when a watch fires, else after
        a third of the session timeout -- so notifications arrive without delay."""
        while not self._stopped.is_set():
            if self._frozen.is_set() or self._expired:
                self._stopped.wait(self.timeout / 3)
                continue
            server = self.server
            try:
                if self._poll is None or self._poll_server != server:
                    if self._poll is not None:
                        self._poll.close()
                    address = self._addresses()[server]
                    self._poll = Client(address, name=f"{self.name}-poll", secret=self._secret)
                    self._poll_server = server
                wait_s = self.timeout / 3
                answer = self._poll.call(
                    "Coord.ping", self.session_id, wait_s, timeout=wait_s + self._call_timeout
                )
            except Exception:  # the server is down or cut off: move on, as a call would
                if self._poll is not None:
                    self._poll.close()
                    self._poll = None
                with self._rpc_lock:
                    if self.server == server:
                        self._move_on()
                self._stopped.wait(0.05)
                continue
            if self._frozen.is_set():
                continue  # a paused process handles nothing until it resumes
            if answer.get("state") == "expired":
                self._expired = True
            self._notes(answer.get("notes", ()))

    def _notes(self, notes: Any) -> None:
        for note in notes:
            for kind in _FIRES.get(note["type"], ()):
                with self._watch_lock:
                    callbacks = self._watches.pop((kind, note["path"]), [])
                for callback, _, _ in callbacks:
                    event = WatchedEvent(
                        getattr(EventType, note["type"]), KeeperState.CONNECTED, note["path"]
                    )
                    self._events.put((callback, event))

    def _dispatch(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            callback, event = item
            self.notifications += 1
            # A recipe's bug must not stop the other callbacks.
            with contextlib.suppress(Exception):
                callback(event)

    def __enter__(self) -> CoordClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<CoordClient {self.name} session {self.session_id} -> {self.server}>"
