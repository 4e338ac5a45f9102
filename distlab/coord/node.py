"""CoordNode: one server of the coordination service in a real process -- CoordServer on Raft.

What it is: a `distlab.replicated.RaftPeer` whose replicated service is a `CoordServer`,
plus the ``Coord.*`` RPCs a `distlab.coord.CoordClient` calls on the *one* server its session
is attached to:

- ``Coord.write(command, timeout)``: the server forwards the write to the leader (every
  write goes through the log: linearizable), waits until its *own* copy has applied it (so
  the client's next read here sees its write), and answers with the tree's result;
- ``Coord.read(session, op, path, watch, min_zxid, timeout)``: answered from this server's
  copy, which may lag the leader -- but never older than ``min_zxid``, the newest zxid the
  client has seen (FIFO client order, 先进先出客户端顺序). A stale read is possible;
  ``sync`` (a write of nothing) followed by a read is not stale;
- ``Coord.ping(session)``: the heartbeat, answering the session's state and its queued watch
  notifications (every answer carries them too);
- ``Coord.attach(session, watches)``: a client that moved here from another server brings its
  watches; one whose znode changed meanwhile fires at once;
- ``Coord.describe()``: the tree, sessions and watches, for panels.

A background thread forwards the heartbeats heard (``touch``) and, on the leader, proposes the
expiry of silent sessions (`CoordServer.due`).
What it must never do: answer a read older than the client's ``min_zxid``, or acknowledge a
write before this server applied it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from distlab.cluster.program import NodeContext
from distlab.coord.server import CoordServer
from distlab.raft import NotLeader, Role
from distlab.replicated.raft_peer import RaftPeer
from distlab.replicated.replies import Applied, ApplyFailed, decode_reply

__all__ = ["CoordNode"]


class CoordNode(RaftPeer):
    """A Raft peer serving the znode tree to the clients attached to it."""

    system_name: ClassVar[str | None] = "coord"

    def __init__(self, ctx: NodeContext) -> None:
        ctx.options.setdefault("service", CoordServer)
        self.touch_every_ms = float(ctx.options.pop("touch_every_ms", 100.0))
        self._applied_changed = threading.Condition()
        super().__init__(ctx)
        self.server: CoordServer = self.service  # type: ignore[assignment]
        self.server.touch_every_ms = self.touch_every_ms
        self._stopping = threading.Event()
        self._sessions_thread = threading.Thread(
            target=self._sessions_loop, name=f"coord-sessions-{ctx.name}", daemon=True
        )
        self._sessions_thread.start()

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Any:
        """A `CoordClient` whose session is attached to ``server`` (default: the first)."""
        from distlab.coord.client import CoordClient

        return CoordClient.for_cluster(cluster, **options)

    def services(self) -> dict[str, object]:
        return {**super().services(), "Coord": _CoordRPC(self)}

    def status(self) -> dict[str, Any]:
        fields = super().status()
        with self._apply_lock:
            fields.update(
                zxid=self.server.tree.zxid,
                sessions=len(self.server.tree.sessions),
                znodes=len(self.server.tree.nodes) - 1,
            )
        return fields

    def close(self) -> None:
        self._stopping.set()
        self._sessions_thread.join(timeout=5.0)
        super().close()

    # ----- applying, waiting -----------------------------------------------------------

    def _apply(self, committed: list[Any]) -> None:
        self.server.set_clock(time.monotonic() * 1000.0)
        super()._apply(committed)
        with self._applied_changed:
            self._applied_changed.notify_all()

    def wait_for_zxid(self, zxid: int, timeout: float) -> bool:
        """Wait until this server's copy has applied ``zxid``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._applied_changed:
            while self.server.tree.zxid < zxid:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._applied_changed.wait(remaining)
        return True

    # ----- forwarding writes to the leader ---------------------------------------------

    def forward(self, command: Any, timeout: float) -> dict[str, Any]:
        """Put ``command`` through the log via the leader; the tree's result once applied
        *here*, or ``{"retry": reason, "definite": bool}``."""
        with self._lock:
            is_leader = self.node.role is Role.LEADER
            leader = self.node.leader_id
        if is_leader:
            outcome = self.propose_nowait(command)
            if isinstance(outcome, NotLeader):
                return {"retry": "not the leader", "definite": True}
            reply = self.wait_for_result(outcome, timeout)
        elif leader is None or leader == self.ctx.name:
            return {"retry": "no leader known", "definite": True}
        else:
            try:
                raw = self.ctx.client(leader).call(
                    "Replicated.submit", command, timeout, timeout=timeout + 0.5
                )
                reply = decode_reply(raw)
            except Exception as error:  # the leader unreachable: the write may have happened
                definite = bool(getattr(error, "definite", False))
                return {"retry": f"leader {leader}: {type(error).__name__}", "definite": definite}
        if isinstance(reply, ApplyFailed):
            return {"zxid": 0, "error": "BadArgumentsError", "message": reply.message}
        if not isinstance(reply, Applied):
            return {"retry": reply.reason, "definite": bool(getattr(reply, "definite", True))}
        result: dict[str, Any] = reply.result
        if not self.wait_for_zxid(int(result.get("zxid", 0)), timeout):
            return {"retry": "this server lags the leader", "definite": False}
        return result

    def _sessions_loop(self) -> None:
        """Forward heartbeats heard and, on the leader, expire silent sessions."""
        while not self._stopping.wait(self.touch_every_ms / 2000.0):
            with self._lock:
                is_leader = self.node.role is Role.LEADER
            with self._apply_lock:
                due = self.server.due(time.monotonic() * 1000.0, is_leader)
            for command in due:
                if self._stopping.is_set():
                    return
                outcome = self.forward(command, timeout=1.0)
                if "retry" in outcome:
                    self.log.info("coord: %s not applied yet (%s)", command["op"], outcome)


class _CoordRPC:
    """``Coord.*``: what a CoordClient calls on the server its session is attached to."""

    def __init__(self, node: CoordNode) -> None:
        self._node = node

    def _with_notes(self, session: Any, answer: dict[str, Any]) -> dict[str, Any]:
        if type(session) is int:
            with self._node._apply_lock:
                answer["notes"] = self._node.server.take_notifications(session)
        return answer

    def write(self, command: Any, timeout: float = 2.0) -> dict[str, Any]:
        """Forward one write (a tree command) through the log; answer once applied here."""
        if not isinstance(command, dict):
            raise ValueError(f"a write is a command map, not {type(command).__name__}")
        session = command.get("session")
        if type(session) is int:
            with self._node._apply_lock:
                self._node.server.heard(session)
        return self._with_notes(session, self._node.forward(command, float(timeout)))

    def read(
        self, session: int, op: str, path: Any, watch: bool, min_zxid: int, timeout: float = 2.0
    ) -> dict[str, Any]:
        """Answer from this server's copy once it has applied ``min_zxid`` (FIFO order)."""
        if op not in ("exists", "get", "get_children"):
            raise ValueError(f"unknown read {op!r}")
        if type(session) is not int or type(min_zxid) is not int:
            raise ValueError("session and min_zxid are integers")
        if not self._node.wait_for_zxid(min_zxid, float(timeout)):
            return {"retry": "this server lags behind the client", "definite": True}
        with self._node._apply_lock:
            server = self._node.server
            server.heard(session)
            if server.session_state(session) == "expired":
                answer = {"zxid": server.tree.zxid, "error": "SessionExpiredError"}
                answer["message"] = f"session {session} has expired"
            else:
                answer = server.read(session, op, path, bool(watch))
        return self._with_notes(session, answer)

    def ping(self, session: int, wait_s: float = 0.0) -> dict[str, Any]:
        """The heartbeat: the session's state here, this server's zxid, queued notes.

        With ``wait_s`` (at most 5 s) it is a *long poll*: it answers as soon as a watch
        notification is queued for the session, or when ``wait_s`` has passed -- so a watch
        reaches its client at once, as ZooKeeper's pushed notifications do.
        """
        if type(session) is not int:
            raise ValueError("session is an integer")
        node = self._node
        deadline = time.monotonic() + min(max(float(wait_s), 0.0), 5.0)
        with node._applied_changed:
            server = node.server
            while not server.notifications.get(session) and session in server.tree.sessions:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                node._applied_changed.wait(remaining)
        with self._node._apply_lock:
            server = self._node.server
            state = server.session_state(session)
            if state != "expired":
                server.heard(session)
            answer = {"state": state, "zxid": server.tree.zxid}
        return self._with_notes(session, answer)

    def attach(self, session: int, watches: list[Any], min_zxid: int) -> dict[str, Any]:
        """A client moved here: re-register its watches (``[kind, path, zxid, existed]``)."""
        if not self._node.wait_for_zxid(int(min_zxid), 2.0):
            return {"retry": "this server lags behind the client", "definite": True}
        with self._node._apply_lock:
            server = self._node.server
            server.heard(session)
            server.attach(session, watches)
            answer = {"state": server.session_state(session), "zxid": server.tree.zxid}
        return self._with_notes(session, answer)

    def describe(self) -> dict[str, Any]:
        """The tree, sessions and watches of this server's copy (for panels)."""
        with self._node._apply_lock:
            return self._node.server.describe()
