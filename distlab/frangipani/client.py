"""FrangipaniClient: run file system operations on chosen workstations, record a history.

``client.write("n3", "/a", "x")`` asks workstation ``n3`` to write; ``client.read("n4",
"/a")`` asks ``n4`` to read. With a `distlab.check.History`, reads and writes are recorded
(``get``/``put`` on the path): a timeout or a lost connection is *indefinite* (the operation
may still happen), a refused one (bad path, missing file) is *definite*.
"""

from __future__ import annotations

from typing import Any

from distlab.check import History
from distlab.core import RequestRefused

__all__ = ["FileSystemError", "FrangipaniClient"]


class FileSystemError(RequestRefused):
    """The operation was refused (no such file, file exists): it certainly did not happen."""


class FrangipaniClient:
    def __init__(
        self, cluster: Any, history: History | None = None, timeout_s: float = 15.0
    ) -> None:
        self.cluster = cluster
        self.history = history
        self.timeout_s = timeout_s
        self._rpc: dict[str, Any] = {}

    def _client(self, node: str) -> Any:
        """One rpc client per node, kept: a connection per call would exhaust the server."""
        if node not in self._rpc:
            self._rpc[node] = self.cluster.client(node)
        return self._rpc[node]

    def close(self) -> None:
        for rpc in self._rpc.values():
            rpc.close()
        self._rpc.clear()

    def run(self, workstation: str, *op: Any) -> Any:
        """Run ``op`` on ``workstation``; its value, or `FileSystemError` / `TimeoutError`."""
        rpc = self._client(workstation)
        answer = rpc.call("Workstation.op", list(op), self.timeout_s, timeout=self.timeout_s + 2.0)
        if answer.get("timeout"):
            raise TimeoutError(f"{workstation}: {op[0]} {op[1:]} timed out (may still happen)")
        if not answer["ok"]:
            raise FileSystemError(f"{workstation}: {answer['error']}")
        return answer["value"]

    def _recorded(self, workstation: str, kind: Any, path: str, value: str | None, *op: Any) -> Any:
        if self.history is None:
            return self.run(workstation, *op)
        return self.history.record(
            workstation,
            kind,
            path,
            value,
            lambda: self.run(workstation, *op),
        )

    def read(self, workstation: str, path: str) -> str:
        return str(self._recorded(workstation, "get", path, None, "read", path))

    def write(self, workstation: str, path: str, value: str) -> None:
        self._recorded(workstation, "put", path, value, "write", path, value)

    def create(self, workstation: str, path: str, value: str = "") -> None:
        """Create ``path`` holding ``value`` (recorded as a write of ``value``)."""
        self._recorded(workstation, "put", path, value, "create", path, value)

    def rename(self, workstation: str, source: str, target: str) -> None:
        self.run(workstation, "rename", source, target)

    def delete(self, workstation: str, path: str) -> None:
        self.run(workstation, "delete", path)

    def listdir(self, workstation: str) -> list[str]:
        return list(self.run(workstation, "list"))

    def sync(self, workstation: str) -> None:
        self.run(workstation, "sync")

    def view(self, workstation: str) -> dict[str, Any]:
        return dict(self._client(workstation).call("Workstation.view"))

    def disk(self) -> dict[str, Any]:
        """The shared service's state as the first server that answers holds it."""
        for name in self.cluster.names:
            try:
                state = self._client(name).call("Replicated.query", None, timeout=2.0)
            except Exception:  # a workstation (no such RPC) or a crashed server
                continue
            return dict(state)
        raise RuntimeError("no server answered")
