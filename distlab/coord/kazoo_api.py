"""kazoo's method names over two primitives: the one API both coordination clients share.

What it is: `KazooAPI`, the part of kazoo's ``KazooClient`` the recipes use -- `create`,
`ensure_path`, `delete`, `set`, `sync`, `get`, `exists`, `get_children` -- written once over
two methods a client supplies: ``_write_raw(command)`` (a command through the log; its
answer) and ``_read(op, path, watch)`` (a read answered by the client's server). Each write
is recorded here, once, in the client's ``history`` for the checker. The real client
(`distlab.coord.client.CoordClient`, over RPC) and the simulator's
(`distlab.coord.simulated.SimCoordClient`, in virtual time) differ only in those two.
What it must never do: talk to a server itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from kazoo import exceptions as kazoo_errors
from kazoo.protocol.states import ZnodeStat

from distlab.check.coordination import CoordHistory

__all__ = ["KazooAPI"]


class KazooAPI:
    """kazoo's znode methods; a subclass supplies ``_write_raw`` and ``_read``."""

    #: Where the client records its calls for the checker (None: nowhere), as ``name``.
    history: CoordHistory | None
    name: str

    def _write_raw(self, command: dict[str, Any]) -> dict[str, Any]:
        """Send one command through the log until it is answered: the answer (``ok``,
        ``zxid``), or kazoo's exception (``ConnectionLoss``: it may have happened)."""
        raise NotImplementedError

    def _read(self, op: str, path: str, watch: Callable[..., Any] | None) -> Any:
        raise NotImplementedError

    def _record_read(self, op: str, path: str) -> int | None:
        """The history's handle for a read about to start, if it is recorded: a ``get``
        (the checker judges data read; ``exists`` and ``get_children`` are not recorded)."""
        if self.history is None or op != "get":
            return None
        return self.history.invoke(self.name, "get", path)

    def _write(self, command: dict[str, Any], value: bytes | None = None) -> Any:
        """`_write_raw`, recorded in ``history``: ok with its zxid, fail on a definite error,
        info on ``ConnectionLoss``. A write that makes an ephemeral znode is not recorded:
        those belong to sessions, not to the data the checker judges."""
        history = None if command.get("ephemeral") else self.history
        if history is None:
            return self._write_raw(command)["ok"]
        shown = None if value is None else bytes(value).decode("utf-8", "replace")
        handle = history.invoke(self.name, command["op"], command.get("path", "/"), shown)
        try:
            answer = self._write_raw(command)
        except kazoo_errors.ConnectionLoss:
            history.complete(handle, "info")
            raise
        except kazoo_errors.KazooException:
            history.complete(handle, "fail")
            raise
        history.complete(handle, "ok", zxid=answer["zxid"])
        return answer["ok"]

    def create(
        self,
        path: str,
        value: bytes = b"",
        acl: Any = None,
        ephemeral: bool = False,
        sequence: bool = False,
        makepath: bool = False,
    ) -> str:
        """Create a znode; its path (with the suffix of a sequential one)."""
        parent = path.rsplit("/", 1)[0]
        if makepath and parent:
            self.ensure_path(parent)
        command: dict[str, Any] = {"op": "create", "path": path, "data": value}
        command.update(ephemeral=bool(ephemeral), sequence=bool(sequence))
        return str(self._write(command, value))

    def ensure_path(self, path: str, acl: Any = None) -> bool:
        """Create ``path`` and its missing parents (no error if they exist)."""
        parts = [p for p in path.split("/") if p]
        for depth in range(1, len(parts) + 1):
            prefix = "/" + "/".join(parts[:depth])
            if self.exists(prefix) is None:
                with contextlib.suppress(kazoo_errors.NodeExistsError):
                    self.create(prefix)
        return True

    def delete(self, path: str, version: int = -1, recursive: bool = False) -> bool:
        """Delete a znode if its version matches (``-1``: any)."""
        if recursive:
            for child in self.get_children(path):
                self.delete(f"{path.rstrip('/')}/{child}", recursive=True)
        self._write({"op": "delete", "path": path, "version": version})
        return True

    def set(self, path: str, value: bytes, version: int = -1) -> ZnodeStat:
        """Replace a znode's data if its version matches; its new stat."""
        command = {"op": "set", "path": path, "data": value, "version": version}
        return ZnodeStat(**self._write(command, value))

    def sync(self, path: str = "/") -> str:
        """Bring this client's server up to date with the leader (a write of nothing)."""
        self._write({"op": "sync", "path": path})
        return path

    def get(self, path: str, watch: Callable[..., Any] | None = None) -> tuple[bytes, ZnodeStat]:
        """(data, stat) from this client's server; ``watch`` fires once on its next change."""
        data, stat = self._read("get", path, watch)
        return bytes(data), ZnodeStat(**stat)

    def exists(self, path: str, watch: Callable[..., Any] | None = None) -> ZnodeStat | None:
        """The stat, or None; ``watch`` fires on creation, change or deletion."""
        raw = self._read("exists", path, watch)
        return None if raw is None else ZnodeStat(**raw)

    def get_children(self, path: str, watch: Callable[..., Any] | None = None) -> list[str]:
        """The children's names; ``watch`` fires when a child is added or removed."""
        return list(self._read("get_children", path, watch))
