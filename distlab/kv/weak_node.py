"""WeakKVNode: the weakly consistent (弱一致) store in a real process — WeakReplica over rpc.

The pure core (:class:`distlab.kv.weak.WeakReplica`) decides; this node program drives it:

- ``WeakKV.execute(command)`` answers a put, get or append from the local replica at once,
  with no coordination — so the node stays available (可用性) through any network partition
  (网络分区). Writes are made durable first (appended to ``weak.log`` and fsync'ed, option
  ``fsync``), then acknowledged.
- *eager push*: each local write's ``Update`` is sent to every peer asynchronously
  (``WeakGossip.receive``); a push lost to a partition is simply lost;
- *anti-entropy*: a ticker thread calls ``tick()`` every ``tick_ms``; every
  ``anti_entropy_every_ticks`` ticks the replica sends its whole table to one random peer,
  which repairs whatever pushes were lost. After a heal every replica converges.

At-most-once here is local: each node keeps its own duplicate table (client id -> last seq
and result), so a retry to the same node is not applied twice; it is neither replicated nor
kept across a crash. A Clerk that fails over to another replica may apply an append twice —
one more way a weak store is weak.

Options (``Cluster.start(..., tick_ms=50, anti_entropy_every_ticks=10, fsync=True)``).
Gossip and the log's records travel in the weak store's codec (``distlab.kv.weak.CODEC``,
one `distlab.core.MessageCodec`): an `Update` or an `AntiEntropy` as plain msgpack data.
The driver follows the core's contract: each `WeakReady`'s changed entries are logged
(fsync'ed before a client's write is acknowledged), then its messages are sent.

What it must never do: print, block a client on the network, or let a lost message stop it.
"""

from __future__ import annotations

import random
import threading
from typing import Any, ClassVar

import msgpack

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.core import Envelope, WireError, derive_seed
from distlab.kv.clerk import Clerk
from distlab.kv.state_machine import CODEC as KV_CODEC
from distlab.kv.state_machine import Applied, Command
from distlab.kv.weak import CODEC, Message, Update, WeakReady, WeakReplica
from distlab.storage import DurableLog

__all__ = ["WeakKVNode"]


class _WeakKVService:
    """The client-facing RPCs (registered as ``WeakKV``)."""

    def __init__(self, node: WeakKVNode) -> None:
        self._node = node

    def execute(self, command: Any) -> Any:
        """Apply a `Command` (KV codec) locally; answers its `Applied` (KV codec)."""
        parsed = KV_CODEC.decode(command)
        if type(parsed) is not Command:
            raise WireError(f"not a KV command: {command!r:.80}")
        return KV_CODEC.encode(self._node.execute(parsed))

    def dump(self) -> dict[str, str]:
        """The values this replica holds (what a reader here could see)."""
        with self._node.lock:
            return self._node.replica.snapshot_table()


class _GossipService:
    """Replica-to-replica RPCs (registered as ``WeakGossip``)."""

    def __init__(self, node: WeakKVNode) -> None:
        self._node = node

    def receive(self, sender: str, message: Any) -> None:
        """Merge an Update or AntiEntropy message from ``sender``."""
        decoded = CODEC.decode(message)
        if not isinstance(decoded, Message):
            raise WireError(f"not a gossip message: {type(decoded).__name__}")
        self._node.receive(str(sender), decoded)


class WeakKVNode(NodeProgram):
    """One replica of the eventually consistent store (see the module docstring)."""

    consistency: ClassVar[str] = "weak"

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Clerk:
        """A Clerk for the whole cluster (``cluster.client()``)."""
        return Clerk.for_cluster(cluster, **options)

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.tick_s = float(options.get("tick_ms", 50)) / 1000.0
        self.fsync = bool(options.get("fsync", True))
        self.lock = threading.Lock()
        self.replica = WeakReplica(
            ctx.name,
            sorted(ctx.peers),
            random.Random(derive_seed(ctx.seed, "gossip")),
            anti_entropy_every_ticks=int(options.get("anti_entropy_every_ticks", 10)),
        )
        self.log = DurableLog(ctx.data_dir / "weak.log")
        recovered = self.replica.recover(self._decode(record) for record in self.log.records())
        if recovered > 2 * len(self.replica.table) + 100:
            # Keep the log about as big as the table: rewrite it with the current entries.
            self.log.rewrite(
                self._encode(Update(key, entry.value, entry.stamp))
                for key, entry in sorted(self.replica.table.items())
            )
        self.recovered = recovered
        self._duplicates: dict[str, tuple[int, str]] = {}
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="weak-ticker", daemon=True)
        self._ticker.start()
        ctx.log.info("weak replica recovered %d records", recovered)

    # -- client operations ---------------------------------------------------------------
    def execute(self, command: Command) -> Applied:
        """Answer locally; writes are logged (and fsync'ed) before the reply."""
        with self.lock:
            seen = self._duplicates.get(command.client_id)
            if seen is not None and command.seq <= seen[0]:
                return Applied(seen[1] if command.seq == seen[0] else "", duplicate=True)
            value = self.replica.execute(command.op, command.key, command.value)
            ready = self.replica.take_ready()
            # The contract's order: persist (a client's write is durable before its "ok"),
            # then send (below, outside the lock).
            self._persist(ready, sync=self.fsync)
            self._duplicates[command.client_id] = (command.seq, value)
        self._send(ready.messages)  # eager push, asynchronous: the client does not wait for it
        return Applied(value, duplicate=False)

    # -- replication ---------------------------------------------------------------------
    def receive(self, sender: str, message: Message) -> None:
        """Merge a peer's message; newer entries are logged (without fsync: anti-entropy
        would repair what a crash loses)."""
        with self.lock:
            self.replica.receive(sender, message)
            ready = self.replica.take_ready()
            self._persist(ready, sync=False)
        self._send(ready.messages)

    def _persist(self, ready: WeakReady, *, sync: bool) -> None:
        if ready.writes:
            self.log.extend([self._encode(update) for update in ready.writes])
            if sync:
                self.log.sync()

    @staticmethod
    def _encode(update: Update) -> bytes:
        return msgpack.packb(CODEC.encode(update))

    @staticmethod
    def _decode(record: bytes) -> Update:
        update = CODEC.decode(msgpack.unpackb(record))
        if type(update) is not Update:
            raise ValueError(f"weak.log holds a {type(update).__name__}, not an Update")
        return update

    def _tick_loop(self) -> None:
        ticks = 0
        while not self._stop.wait(self.tick_s):
            ticks += 1
            with self.lock:
                self.replica.tick()
                ready = self.replica.take_ready()
                self._persist(ready, sync=False)
                if not self.fsync and ticks % 20 == 0:
                    self.log.sync()  # without per-write fsync: flush about once a second
            self._send(ready.messages)

    def _send(self, messages: list[Envelope]) -> None:
        for envelope in messages:
            try:
                client = self.ctx.client(envelope.dst)
                # Fire and forget: a message lost to a partition is repaired by anti-entropy.
                client.call_async(
                    "WeakGossip.receive",
                    self.ctx.name,
                    CODEC.encode(envelope.message),
                    timeout=1.0,
                )
            except Exception as error:  # a peer we cannot reach right now: log, carry on
                self.ctx.log.debug("gossip to %s failed: %r", envelope.dst, error)

    # -- NodeProgram ---------------------------------------------------------------------
    def services(self) -> dict[str, object]:
        return {"WeakKV": _WeakKVService(self), "WeakGossip": _GossipService(self)}

    def status(self) -> dict[str, Any]:
        with self.lock:
            stats = self.replica.statistics()
        return {
            "role": "replica",
            "consistency": "weak",
            "keys": stats.keys,
            "local_writes": stats.local_writes,
            "merged": stats.merged_updates,
            "lamport_clock": stats.lamport_clock,
        }

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
        with self.lock:
            self.log.sync()
            self.log.close()
