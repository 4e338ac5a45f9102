"""CoordServer: what one ZooKeeper-like server holds -- the replicated tree plus its local part.

What it is: the service a Raft peer applies (``apply``, ``snapshot``, ``restore``: the
`ZnodeTree`, identical on every server), together with what belongs to *this* server only
and is therefore not replicated:

- **watches** (监视): a client that reads with ``watch=True`` leaves a one-shot trigger on
  the server it talks to. When a later command changes that znode, the server queues one
  notification for that session and forgets the watch. Because the watch is set under the
  same lock as the read, it fires only for changes *after* the state the client read --
  never for a change the client already saw.
- **heartbeats heard**: clients ping their own server; every ``touch_every_ms`` the server
  forwards one ``touch`` command, naming the sessions it heard from, through the log.
- **session deadlines**: every server notes when each session was last touched; the leader
  proposes ``expire`` for a session not touched within its timeout. Expiry goes through the
  log, so every server deletes that session's ephemeral znodes at the same point of the
  history. A new leader first grants every session a full timeout (it cannot know when
  its predecessor heard from them), as ZooKeeper does.

Times are plain numbers of milliseconds handed in by the host (the real node's monotonic
clock, or the simulator's virtual one), so this class stays pure and replayable.
What it must never do: read the clock, sleep or do I/O; hosts do (`distlab.coord.node`,
`distlab.coord.simulated`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from distlab.coord.tree import TreeError, ZnodeTree

__all__ = ["CoordServer"]

# Which watches an event fires: data watches (set by get and exists) and child watches.
_FIRES = {
    "CREATED": ("data",),
    "CHANGED": ("data",),
    "DELETED": ("data", "child"),
    "CHILD": ("child",),
}


class CoordServer:
    """The tree (replicated) plus this server's watches and session clocks (local)."""

    def __init__(self, touch_every_ms: float = 200.0) -> None:
        self.tree = ZnodeTree()
        self.touch_every_ms = touch_every_ms
        self.watches: dict[tuple[str, str], set[int]] = defaultdict(set)  # (kind, path)
        self.notifications: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.fired = 0  # notifications queued so far (the herd effect is counted with it)
        self._heard: set[int] = set()
        self._next_touch = 0.0
        self._deadlines: dict[int, float] = {}
        self._was_leader = False
        self._now = 0.0

    # ----- the replicated part (ReplicatedService) -----------------------------------

    def apply(self, command: Any) -> dict[str, Any]:
        """Apply one committed command to the tree, then fire the watches it triggers."""
        result = self.tree.apply(command)
        for event_type, path in self.tree.take_events():
            for kind in _FIRES[event_type]:
                for session in sorted(self.watches.pop((kind, path), ())):
                    note = {"type": event_type, "path": path, "zxid": self.tree.zxid}
                    if note not in self.notifications[session]:  # one per change per session
                        self.notifications[session].append(note)
                        self.fired += 1
        if isinstance(command, dict) and "ok" in result:
            op = command.get("op")
            if op == "open_session":
                self._deadlines[result["ok"]] = self._now + self.tree.sessions[result["ok"]]
            elif op == "touch":
                for session in result["ok"]:
                    self._deadlines[session] = self._now + self.tree.sessions[session]
            elif op in ("expire", "close_session"):
                ended: int = command.get("target", command.get("session", 0)) or 0
                self._deadlines.pop(ended, None)
                self.notifications.pop(ended, None)
                for sessions in self.watches.values():
                    sessions.discard(ended)
        return result

    def snapshot(self) -> bytes:
        return self.tree.snapshot()

    def restore(self, data: bytes) -> None:
        self.tree = ZnodeTree.restore(data)

    def query(self, request: Any = None) -> Any:
        """The local copy: None -> {path: data}; [op, path] -> that read's answer."""
        if request is None:
            return {path: node.data for path, node in self.tree.nodes.items()}
        op, path = request
        return self.tree.read(op, path)

    # ----- the local part ---------------------------------------------------------------

    def read(self, session: int, op: str, path: Any, watch: bool) -> dict[str, Any]:
        """Answer a read from this server's copy (maybe stale); leave a watch if asked.

        ``exists`` watches a missing znode for its creation; ``get`` and ``get_children`` of
        a missing znode leave no watch (ZooKeeper's rule) and answer NoNodeError.
        """
        try:
            value = self.tree.read(op, path)
        except TreeError as error:
            return {"zxid": self.tree.zxid, "error": error.name, "message": str(error)}
        if watch and session in self.tree.sessions:
            kind = "child" if op == "get_children" else "data"
            self.watches[(kind, path)].add(session)
        return {"zxid": self.tree.zxid, "ok": value}

    def attach(self, session: int, watches: list[Any]) -> None:
        """Re-register the watches a client brings from another server.

        Each is ``[kind, path, zxid, existed]``: what the client saw when it set the watch.
        A watch whose znode changed since (this copy is at least as new) fires at once.
        """
        for kind, path, zxid, existed in watches:
            node = self.tree.nodes.get(path)
            event = None
            if existed and node is None:
                event = "DELETED"
            elif kind == "data" and node is not None and not existed:
                event = "CREATED"
            elif kind == "data" and node is not None and node.mzxid > zxid:
                event = "CHANGED"
            elif kind == "child" and node is not None and node.pzxid > zxid:
                event = "CHILD"
            if event is None:
                self.watches[(kind, path)].add(session)
            else:
                self.notifications[session].append(
                    {"type": event, "path": path, "zxid": self.tree.zxid}
                )
                self.fired += 1

    def take_notifications(self, session: int) -> list[dict[str, Any]]:
        """The watch notifications queued for ``session``, oldest first (then forgotten)."""
        return self.notifications.pop(session, [])

    def session_state(self, session: int) -> str:
        """ "open", "expired", or "unknown" (opened at a zxid this server has not reached)."""
        if session in self.tree.sessions:
            return "open"
        return "expired" if 0 < session < self.tree.next_session else "unknown"

    def heard(self, session: int) -> None:
        """A client of this server sent a heartbeat (or any request)."""
        self._heard.add(session)

    def due(self, now_ms: float, is_leader: bool) -> list[dict[str, Any]]:
        """Commands this server should propose now: a ``touch`` for the sessions heard since
        the last one (every ``touch_every_ms``) and, on the leader, ``expire`` for each
        session whose timeout passed without a touch."""
        self._now = now_ms
        commands: list[dict[str, Any]] = []
        if self._heard and now_ms >= self._next_touch:
            commands.append({"op": "touch", "sessions": sorted(self._heard)})
            self._heard.clear()
            self._next_touch = now_ms + self.touch_every_ms
        for session, timeout_ms in self.tree.sessions.items():
            if session not in self._deadlines or (is_leader and not self._was_leader):
                self._deadlines[session] = now_ms + timeout_ms  # a grace period
        self._was_leader = is_leader
        if is_leader:
            for session, deadline in sorted(self._deadlines.items()):
                if now_ms > deadline and session in self.tree.sessions:
                    commands.append({"op": "expire", "target": session})
                    # Proposed once per timeout: if it is lost, it is proposed again.
                    self._deadlines[session] = now_ms + self.tree.sessions[session]
        return commands

    def set_clock(self, now_ms: float) -> None:
        """The time the next applied commands happen at (for session deadlines)."""
        self._now = now_ms

    def describe(self) -> dict[str, Any]:
        """Plain data for panels: znodes with their data and owner, sessions, watch counts."""
        tree = self.tree
        return {
            "zxid": tree.zxid,
            "znodes": {
                path: {
                    "data": node.data.decode("utf-8", "replace"),
                    "version": node.version,
                    "owner": node.ephemeral_owner,
                }
                for path, node in sorted(tree.nodes.items())
            },
            "sessions": sorted(tree.sessions),
            "watches": sum(len(s) for s in self.watches.values()),
            "notifications": self.fired,
        }
