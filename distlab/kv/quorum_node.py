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

RPCs (service ``QuorumKV``): ``read(key) -> Stamped`` and ``write(key, stamped) -> bool``
(stored if the stamp is newer; the same stamp twice is a harmless repeat, which is what
makes a retried write safe), a `distlab.kv.quorum.Stamped` in that module's codec. Writes
are logged and fsync'ed before the reply. What it must never do: decide anything about
quorums (the Clerk does, with `distlab.kv.quorum.plan_after_read`), or print.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

import msgpack

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.core import WireError
from distlab.kv.clerk import Clerk
from distlab.kv.quorum import CODEC, NEVER_WRITTEN, Stamped
from distlab.storage import DurableLog

__all__ = ["QuorumKVNode"]


class _QuorumService:
    """The ``QuorumKV`` RPCs."""

    def __init__(self, node: QuorumKVNode) -> None:
        self._node = node

    def read(self, key: str) -> Any:
        """``key``'s `Stamped` value (``NEVER_WRITTEN`` if never written), encoded."""
        with self._node.lock:
            return CODEC.encode(self._node.table.get(str(key), NEVER_WRITTEN))

    def write(self, key: str, stamped: Any) -> bool:
        """Store the value if its stamp is newer; True if stored."""
        value = CODEC.decode(stamped)
        if type(value) is not Stamped:
            raise WireError(f"QuorumKV.write takes a Stamped value, not {value!r:.60}")
        return self._node.write(str(key), value)

    def dump(self) -> dict[str, str]:
        """The values this replica holds."""
        with self._node.lock:
            return {key: entry.value for key, entry in sorted(self._node.table.items())}


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
        self.table: dict[str, Stamped] = {}
        self.writes = self.ignored = 0
        self.log = DurableLog(ctx.data_dir / "quorum.log")
        for record in self.log.records():
            key, stamped = msgpack.unpackb(record)
            self._store(key, CODEC.decode(stamped))

    def _store(self, key: str, stamped: Stamped) -> bool:
        current = self.table.get(key)
        if current is not None and stamped <= current:
            return False
        self.table[key] = stamped
        return True

    def write(self, key: str, stamped: Stamped) -> bool:
        with self.lock:
            if not self._store(key, stamped):
                self.ignored += 1
                return False
            self.log.append(msgpack.packb([key, CODEC.encode(stamped)]))
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
