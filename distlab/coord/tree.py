"""The znode tree: ZooKeeper's data model as a pure, deterministic replicated service.

What it is: `ZnodeTree`, the state every server of the coordination service (协调服务) holds
and Raft keeps identical: a tree of *znodes* (each with data, a version and a creation and
modification *zxid*), and the open *sessions* (会话). Every write -- create, delete, set,
a session opening, a heartbeat (``touch``), a session's expiry, ``sync`` -- is a command in
the Raft log, applied here in log order; so writes are linearizable (线性一致). The zxid is
simply the number of commands the tree has applied: two servers with the same zxid hold the
same tree, and a server with a larger zxid is further along the one history.

- ``create(path, data, ephemeral, sequence)``: a *sequential* znode (顺序节点) gets a
  ten-digit suffix from its parent's counter (``lock-0000000007``); an *ephemeral* znode
  (临时节点) belongs to its session and is deleted when that session ends.
- ``delete(path, version)`` and ``set(path, data, version)`` are *conditional* writes:
  version -1 means any; otherwise the write happens only if the znode's version matches.
- Errors carry ZooKeeper's (and kazoo's) names -- ``NoNodeError``, ``NodeExistsError``,
  ``BadVersionError``, ``NotEmptyError``, ``BadArgumentsError``,
  ``NoChildrenForEphemeralsError``, ``SessionExpiredError`` -- and change nothing.
- Each session's last (seq, result) is remembered, so a client retrying a write (through
  another server, after a lost reply) gets the first answer instead of a second apply.

Every applied command also lists the *events* it caused (``CREATED``, ``DELETED``,
``CHANGED``, ``CHILD``) in `take_events`; the server that hosts the tree fires its local
watches from them (`distlab.coord.watches`).

What it must never do: read the clock, the disk or the network, or depend on which server
it runs on. It is hosted by `distlab.coord.server.CoordServer` (one per server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgpack

__all__ = ["ERRORS", "Znode", "ZnodeTree", "is_write", "validate_path"]

ERRORS = (
    "NoNodeError",
    "NodeExistsError",
    "BadVersionError",
    "NotEmptyError",
    "BadArgumentsError",
    "NoChildrenForEphemeralsError",
    "SessionExpiredError",
)
"""The error names a command can answer (kazoo's exception class names)."""

WRITES = ("create", "delete", "set", "open_session", "close_session", "touch", "expire", "sync")


def is_write(command: Any) -> bool:
    """True for a command that goes through the log (everything but reads)."""
    return isinstance(command, dict) and command.get("op") in WRITES


class TreeError(Exception):
    """A command refused by ZooKeeper's rules; ``name`` is the kazoo error class's name."""

    def __init__(self, name: str, message: str) -> None:
        assert name in ERRORS, name
        super().__init__(message)
        self.name = name


def validate_path(path: Any) -> str:
    """``path`` if it is a well-formed absolute znode path, else `TreeError` BadArguments."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise TreeError("BadArgumentsError", f"a znode path starts with '/': {path!r:.60}")
    if path != "/" and (path.endswith("/") or "//" in path):
        raise TreeError("BadArgumentsError", f"empty path component in {path!r:.60}")
    if any(part in (".", "..") for part in path.split("/")) or "\x00" in path:
        raise TreeError("BadArgumentsError", f"relative or NUL component in {path!r:.60}")
    return path


def parent_of(path: str) -> str:
    head = path.rsplit("/", 1)[0]
    return head or "/"


@dataclass
class Znode:
    """One znode: its data and the counters of its stat (ZooKeeper's ``Stat``)."""

    data: bytes
    czxid: int
    mzxid: int
    version: int = 0
    cversion: int = 0  # changes to the children; also names the next sequential child
    pzxid: int = 0
    ephemeral_owner: int = 0  # the session that owns an ephemeral znode, else 0
    children: set[str] = field(default_factory=set)

    def stat(self) -> dict[str, int]:
        """The fields of kazoo's ``ZnodeStat`` that this model keeps (times are zxids)."""
        return {
            "czxid": self.czxid,
            "mzxid": self.mzxid,
            "ctime": self.czxid,
            "mtime": self.mzxid,
            "version": self.version,
            "cversion": self.cversion,
            "aversion": 0,
            "ephemeralOwner": self.ephemeral_owner,
            "dataLength": len(self.data),
            "numChildren": len(self.children),
            "pzxid": self.pzxid,
        }


class ZnodeTree:
    """ZooKeeper's replicated state: znodes and sessions (see the module docstring)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Znode] = {"/": Znode(b"", 0, 0)}
        self.sessions: dict[int, int] = {}  # session id -> timeout in ms
        self.last: dict[int, tuple[int, Any]] = {}  # session -> (last seq, its result)
        self.zxid = 0
        self.next_session = 1
        self._events: list[tuple[str, str]] = []

    # ----- applying commands ---------------------------------------------------------

    def apply(self, command: Any) -> dict[str, Any]:
        """Apply one committed command; its result ``{"zxid", "ok"}`` or ``{"zxid", "error",
        "message"}``. A malformed command is answered BadArgumentsError (on every replica
        alike) and, like every refused command, changes nothing but the zxid."""
        self.zxid += 1
        if not isinstance(command, dict):
            return self._error(TreeError("BadArgumentsError", f"not a command: {command!r:.60}"))
        session = command.get("session", 0)
        seq = command.get("seq", 0)
        if type(session) is not int or type(seq) is not int:
            return self._error(TreeError("BadArgumentsError", "session and seq are integers"))
        seen = self.last.get(session)
        if seen is not None and seq and seq <= seen[0]:
            return (
                seen[1]
                if seq == seen[0]
                else self._error(
                    TreeError("BadArgumentsError", f"stale retry {seq} of session {session}")
                )
            )
        try:
            result = {"zxid": self.zxid, "ok": self._apply(command, session)}
        except TreeError as error:
            result = self._error(error)
        if seq and session in self.sessions:
            self.last[session] = (seq, result)
        return result

    def _error(self, error: TreeError) -> dict[str, Any]:
        return {"zxid": self.zxid, "error": error.name, "message": str(error)}

    def _apply(self, command: dict[str, Any], session: int) -> Any:
        op = command.get("op")
        if op == "open_session":
            timeout_ms = command.get("timeout_ms")
            if type(timeout_ms) is not int or timeout_ms <= 0:
                raise TreeError("BadArgumentsError", f"timeout_ms must be > 0: {timeout_ms!r}")
            session_id = self.next_session
            self.next_session += 1
            self.sessions[session_id] = timeout_ms
            return session_id
        if op == "touch":  # heartbeats forwarded by a server; unknown sessions are ignored
            sessions = command.get("sessions")
            if not isinstance(sessions, list):
                raise TreeError("BadArgumentsError", "touch lists sessions")
            return [s for s in sessions if s in self.sessions]
        if op == "sync":
            return self.zxid
        if op in ("expire", "close_session"):
            target = command.get("target", session)
            if target not in self.sessions:
                raise TreeError("SessionExpiredError", f"session {target!r} is not open")
            return self._end_session(target)
        if session not in self.sessions:
            raise TreeError("SessionExpiredError", f"session {session} has expired")
        path = validate_path(command.get("path"))
        if op == "create":
            return self._create(command, path, session)
        if op == "delete":
            return self._delete(path, command.get("version", -1))
        if op == "set":
            return self._set(path, command.get("data", b""), command.get("version", -1))
        raise TreeError("BadArgumentsError", f"unknown operation {op!r:.40}")

    def _create(self, command: dict[str, Any], path: str, session: int) -> str:
        data = command.get("data", b"")
        if not isinstance(data, bytes):
            raise TreeError("BadArgumentsError", "data must be bytes")
        if path == "/":
            raise TreeError("NodeExistsError", "/ always exists")
        parent_path = parent_of(path)
        parent = self.nodes.get(parent_path)
        if parent is None:
            raise TreeError("NoNodeError", f"parent {parent_path} does not exist")
        if parent.ephemeral_owner:
            raise TreeError("NoChildrenForEphemeralsError", f"{parent_path} is ephemeral")
        if command.get("sequence"):
            path = f"{path}{parent.cversion:010d}"
        if path in self.nodes:
            raise TreeError("NodeExistsError", f"{path} exists")
        owner = session if command.get("ephemeral") else 0
        self.nodes[path] = Znode(data, self.zxid, self.zxid, ephemeral_owner=owner)
        parent.children.add(path.rsplit("/", 1)[1])
        parent.cversion += 1
        parent.pzxid = self.zxid
        self._events += [("CREATED", path), ("CHILD", parent_path)]
        return path

    def _delete(self, path: str, version: Any) -> None:
        node = self._existing(path)
        if path == "/":
            raise TreeError("BadArgumentsError", "/ cannot be deleted")
        self._check_version(path, node, version)
        if node.children:
            raise TreeError("NotEmptyError", f"{path} has children")
        self._remove(path)

    def _remove(self, path: str) -> None:
        del self.nodes[path]
        parent_path = parent_of(path)
        parent = self.nodes[parent_path]
        parent.children.discard(path.rsplit("/", 1)[1])
        parent.cversion += 1
        parent.pzxid = self.zxid
        self._events += [("DELETED", path), ("CHILD", parent_path)]

    def _set(self, path: str, data: Any, version: Any) -> dict[str, int]:
        if not isinstance(data, bytes):
            raise TreeError("BadArgumentsError", "data must be bytes")
        node = self._existing(path)
        self._check_version(path, node, version)
        node.data = data
        node.version += 1
        node.mzxid = self.zxid
        self._events.append(("CHANGED", path))
        return node.stat()

    def _end_session(self, session: int) -> list[str]:
        """Delete the session's ephemeral znodes (deepest first) and forget it."""
        owned = sorted(
            (path for path, node in self.nodes.items() if node.ephemeral_owner == session),
            key=lambda path: (-path.count("/"), path),
        )
        for path in owned:
            self._remove(path)
        del self.sessions[session]
        self.last.pop(session, None)
        return owned

    def _existing(self, path: str) -> Znode:
        node = self.nodes.get(path)
        if node is None:
            raise TreeError("NoNodeError", f"{path} does not exist")
        return node

    @staticmethod
    def _check_version(path: str, node: Znode, version: Any) -> None:
        if type(version) is not int:
            raise TreeError("BadArgumentsError", f"version must be an integer: {version!r:.20}")
        if version != -1 and version != node.version:
            raise TreeError(
                "BadVersionError", f"{path} is at version {node.version}, not {version}"
            )

    def take_events(self) -> list[tuple[str, str]]:
        """The (event type, path) pairs caused since the last call, in order."""
        events, self._events = self._events, []
        return events

    # ----- reads (answered by one server from its own copy) --------------------------

    def read(self, op: str, path: Any) -> Any:
        """``exists`` -> stat or None; ``get`` -> [data, stat]; ``get_children`` -> names.
        Raises `TreeError` (NoNodeError, BadArgumentsError)."""
        path = validate_path(path)
        if op == "exists":
            node = self.nodes.get(path)
            return None if node is None else node.stat()
        node = self._existing(path)
        if op == "get":
            return [node.data, node.stat()]
        if op == "get_children":
            return sorted(node.children)
        raise TreeError("BadArgumentsError", f"unknown read {op!r:.40}")

    def ephemerals(self) -> dict[str, int]:
        """Every ephemeral znode and the session that owns it."""
        return {p: n.ephemeral_owner for p, n in self.nodes.items() if n.ephemeral_owner}

    # ----- snapshots -----------------------------------------------------------------

    def snapshot(self) -> bytes:
        """The whole tree and the session tables as msgpack bytes."""
        nodes = {
            path: [n.data, n.czxid, n.mzxid, n.version, n.cversion, n.pzxid, n.ephemeral_owner]
            for path, n in self.nodes.items()
        }
        state = {
            "nodes": nodes,
            "sessions": self.sessions,
            "last": {s: [seq, result] for s, (seq, result) in self.last.items()},
            "zxid": self.zxid,
            "next_session": self.next_session,
        }
        return msgpack.packb(state, use_bin_type=True)

    @classmethod
    def restore(cls, data: bytes) -> ZnodeTree:
        """The tree a `snapshot` holds (ValueError if it is not one)."""
        try:
            state = msgpack.unpackb(bytes(data), raw=False, strict_map_key=False)
            tree = cls()
            tree.nodes = {
                str(path): Znode(
                    bytes(v[0]),
                    czxid=int(v[1]),
                    mzxid=int(v[2]),
                    version=int(v[3]),
                    cversion=int(v[4]),
                    pzxid=int(v[5]),
                    ephemeral_owner=int(v[6]),
                )
                for path, v in state["nodes"].items()
            }
            for path in tree.nodes:
                if path != "/":
                    tree.nodes[parent_of(path)].children.add(path.rsplit("/", 1)[1])
            tree.sessions = {int(s): int(t) for s, t in state["sessions"].items()}
            tree.last = {int(s): (int(v[0]), v[1]) for s, v in state["last"].items()}
            tree.zxid = int(state["zxid"])
            tree.next_session = int(state["next_session"])
        except (ValueError, KeyError, TypeError, IndexError, msgpack.UnpackException) as error:
            raise ValueError(f"not a znode tree snapshot: {error}") from error
        return tree
