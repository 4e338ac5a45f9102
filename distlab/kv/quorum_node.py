"""QuorumKVNode: one replica of a quorum store (N, R, W) — the space between strong and weak.

Dynamo-style replication with the coordination in the client (the Clerk, consistency
``"quorum"``): every value carries a stamp (counter, writer id); a replica only stores and
compares. With N replicas, a write is acknowledged once W replicas stored it and a read asks
R replicas and keeps the value with the highest stamp:

- R + W > N: every read quorum meets every write quorum, so a read sees the latest
  completed write (no stale reads). The Clerk also writes the value it read back to a write
  quorum before answering (as in the ABD algorithm), so later reads never go back in time:
  puts and gets are then linearizable. Appends are read-then-write, not atomic: two
  concurrent appends may still lose one.
- R + W <= N: the quorums may miss each other; a read can return an old value (陈旧读).

Replicas never talk to each other (no anti-entropy here): a replica that missed writes
while it was down or cut off stays behind until a later write or a read's write-back
reaches it.

RPCs (service ``QuorumKV``): ``read(key) -> [value, counter, writer]`` and
``write(key, value, counter, writer) -> bool`` (stored if the stamp is newer; the same
stamp twice is a harmless repeat, which is what makes a retried write safe). Writes are
logged and fsync'ed before the reply. What it must never do: decide anything about
quorums (the Clerk does), or print.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import msgpack

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.kv.clerk import Clerk
from distlab.storage import DurableLog

__all__ = ["QuorumKVNode"]


class _QuorumService:
    """The ``QuorumKV`` RPCs."""

    def __init__(self, node: QuorumKVNode) -> None:
        self._node = node

    def read(self, key: str) -> list:
        """``[value, counter, writer]`` of ``key`` (``["", 0, ""]`` if never written)."""
        with self._node.lock:
            return list(self._node.table.get(str(key), ("", 0, "")))

    def write(self, key: str, value: str, counter: int, writer: str) -> bool:
        """Store the value if its stamp (counter, writer) is newer; True if stored."""
        return self._node.write(str(key), str(value), int(counter), str(writer))

    def dump(self) -> dict[str, str]:
        """The values this replica holds."""
        with self._node.lock:
            return {key: entry[0] for key, entry in sorted(self._node.table.items())}


class QuorumKVNode(NodeProgram):
    """One replica: a stamped table on disk (see the module docstring)."""

    consistency: ClassVar[str] = "quorum"

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Clerk:
        """A Clerk for the whole cluster (``cluster.client()``)."""
        return Clerk.for_cluster(cluster, **options)

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.lock = threading.Lock()
        self.fsync = bool(ctx.options.get("fsync", True))
        self.table: dict[str, tuple[str, int, str]] = {}
        self.writes = self.ignored = 0
        self.log = DurableLog(ctx.data_dir / "quorum.log")
        for record in self.log.records():
            key, value, counter, writer = msgpack.unpackb(record)
            self._store(key, value, counter, writer)

    def _store(self, key: str, value: str, counter: int, writer: str) -> bool:
        current = self.table.get(key)
        if current is not None and (counter, writer) <= (current[1], current[2]):
            return False
        self.table[key] = (value, counter, writer)
        return True

    def write(self, key: str, value: str, counter: int, writer: str) -> bool:
        with self.lock:
            if not self._store(key, value, counter, writer):
                self.ignored += 1
                return False
            self.log.append(msgpack.packb([key, value, counter, writer]))
            if self.fsync:
                self.log.sync()
            self.writes += 1
            return True

    def services(self) -> dict[str, object]:
        return {"QuorumKV": _QuorumService(self)}

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "role": "replica",
                "consistency": "quorum",
                "keys": len(self.table),
                "writes": self.writes,
                "ignored": self.ignored,
            }

    def close(self) -> None:
        with self.lock:
            self.log.sync()
            self.log.close()
