"""Small built-in node programs for tests, demos and the fault-tolerance chapter.

* :class:`DurableKV` -- a key/value server that acknowledges a put only after the write is in
  its :class:`~distlab.storage.DurableLog` and fsync'ed, and rebuilds its map from that log when
  it restarts: recoverable (可恢复性).
* :class:`VolatileKV` -- the same server keeping its map only in memory: a crash forgets all.
* :class:`Echo` -- answers ``echo`` and can ``ping_peer`` another node, to show partitions.

Each offers its RPCs under a fixed service name ("KV", "Echo"). These are single-node servers,
not replicated: replication is the next chapters' job. They never print.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.storage import DurableLog

__all__ = ["DurableKV", "Echo", "VolatileKV"]


class _KVService:
    """The "KV" RPCs: put, get, append, dump."""

    def __init__(self, program: VolatileKV) -> None:
        self._program = program

    def put(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``; returns once the write is as durable as the server makes it."""
        self._program.write(["put", key, value])

    def append(self, key: str, value: str) -> str:
        """Append ``value`` to ``key``'s value; returns the new value."""
        return self._program.write(["append", key, value])

    def get(self, key: str) -> str | None:
        """The value of ``key``, or None."""
        with self._program.lock:
            return self._program.data.get(key)

    def dump(self) -> dict[str, str]:
        """The whole map (for tests and demos)."""
        with self._program.lock:
            return dict(self._program.data)


class VolatileKV(NodeProgram):
    """A KV server whose state lives only in memory: a crash loses every write."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.lock = threading.Lock()
        self.data: dict[str, str] = {}
        self.writes = 0

    def _apply(self, command: list[Any]) -> str:
        op, key, value = command
        if op == "put":
            self.data[key] = value
        elif op == "append":
            self.data[key] = self.data.get(key, "") + value
        else:
            raise ValueError(f"unknown KV operation {op!r}")
        return self.data[key]

    def write(self, command: list[Any]) -> str:
        """Apply a write; subclasses make it durable first."""
        with self.lock:
            self.writes += 1
            return self._apply(command)

    def services(self) -> dict[str, object]:
        return {"KV": _KVService(self)}

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {"keys": len(self.data), "writes": self.writes, "durable": False}


class DurableKV(VolatileKV):
    """A KV server with a write-ahead log: a put is acknowledged only after ``sync()``.

    On start it replays ``data_dir/kv.log``, so after a crash it comes back with every write
    it ever acknowledged.
    """

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.log = DurableLog(ctx.data_dir / "kv.log")
        for record in self.log.records():
            self._apply(json.loads(record))
        self.recovered = len(self.log)
        ctx.log.info("recovered %d writes from %s", self.recovered, self.log.path)

    def write(self, command: list[Any]) -> str:
        with self.lock:
            # Write-ahead: log, fsync, then apply and acknowledge. A crash before sync() loses
            # the write, but the client never heard "ok" for it.
            self.log.append(json.dumps(command).encode())
            self.log.sync()
            self.writes += 1
            return self._apply(command)

    def status(self) -> dict[str, Any]:
        fields = super().status()
        fields.update(durable=True, recovered=self.recovered, log_records=len(self.log))
        return fields

    def close(self) -> None:
        self.log.close()


class _EchoService:
    def __init__(self, ctx: NodeContext) -> None:
        self._ctx = ctx

    def echo(self, value: Any) -> Any:
        """Return ``value`` unchanged."""
        return value

    def ping_peer(self, peer: str, timeout: float = 1.0) -> bool:
        """Call ``Echo.echo`` on ``peer`` through this node's network; True if it answered."""
        try:
            return self._ctx.client(peer).call("Echo.echo", self._ctx.name, timeout=timeout) == (
                self._ctx.name
            )
        except Exception as error:  # any RpcError: the peer is unreachable from here
            self._ctx.log.info("ping %s failed: %r", peer, error)
            return False


class Echo(NodeProgram):
    """Answers ``Echo.echo(value)`` and ``Echo.ping_peer(peer)``; reports its peers."""

    def services(self) -> dict[str, object]:
        return {"Echo": _EchoService(self.ctx)}

    def status(self) -> dict[str, Any]:
        return {"peers": sorted(self.ctx.peers)}
