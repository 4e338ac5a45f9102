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
Wire format of gossip: ``["u", key, value, counter, node]`` for an Update,
``["ae", [[key, value, counter, node], ...]]`` for AntiEntropy (plain msgpack data).

What it must never do: print, block a client on the network, or let a lost message stop it.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import msgpack

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.kv.state_machine import Command
from distlab.kv.weak import AntiEntropy, Message, Stamp, Update, WeakReplica
from distlab.storage import DurableLog

__all__ = ["WeakKVNode"]


def message_to_wire(message: Message) -> list:
    """An Update or AntiEntropy message as plain data."""
    if isinstance(message, Update):
        return ["u", message.key, message.value, message.stamp.counter, message.stamp.node_id]
    return ["ae", [[u.key, u.value, u.stamp.counter, u.stamp.node_id] for u in message.entries]]


def message_from_wire(fields: Any) -> Message:
    """Inverse of :func:`message_to_wire` (raises ValueError for anything else)."""
    try:
        kind = fields[0]
        if kind == "u":
            _, key, value, counter, node = fields
            return Update(str(key), str(value), Stamp(int(counter), str(node)))
        if kind == "ae":
            return AntiEntropy(
                tuple(Update(str(k), str(v), Stamp(int(c), str(n))) for k, v, c, n in fields[1])
            )
    except (TypeError, ValueError, IndexError) as error:
        raise ValueError(f"not a gossip message: {fields!r} ({error})") from None
    raise ValueError(f"unknown gossip message kind {fields!r}")


class _WeakKVService:
    """The client-facing RPCs (registered as ``WeakKV``)."""

    def __init__(self, node: WeakKVNode) -> None:
        self._node = node

    def execute(self, command: list) -> dict[str, Any]:
        """Apply a ``Command.to_wire()`` locally; returns ``{"ok": True, "result": {...}}``."""
        return self._node.execute(Command.from_wire(list(command)))

    def dump(self) -> dict[str, str]:
        """The values this replica holds (what a reader here could see)."""
        with self._node.lock:
            return self._node.replica.snapshot_table()


class _GossipService:
    """Replica-to-replica RPCs (registered as ``WeakGossip``)."""

    def __init__(self, node: WeakKVNode) -> None:
        self._node = node

    def receive(self, sender: str, message: list) -> None:
        """Merge an Update or AntiEntropy message from ``sender``."""
        self._node.receive(str(sender), message_from_wire(message))


class WeakKVNode(NodeProgram):
    """One replica of the eventually consistent store (see the module docstring)."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        options = ctx.options
        self.tick_s = float(options.get("tick_ms", 50)) / 1000.0
        self.fsync = bool(options.get("fsync", True))
        self.lock = threading.Lock()
        self.replica = WeakReplica(
            ctx.name,
            sorted(ctx.peers),
            random.Random(ctx.seed),
            anti_entropy_every_ticks=int(options.get("anti_entropy_every_ticks", 10)),
        )
        self.log = DurableLog(ctx.data_dir / "weak.log")
        recovered = 0
        for record in self.log.records():
            key, value, counter, node = msgpack.unpackb(record)
            self.replica.receive(ctx.name, Update(key, value, Stamp(counter, node)))
            recovered += 1
        if recovered > 2 * len(self.replica.table) + 100:
            # Keep the log about as big as the table: rewrite it with the current entries.
            self.log.rewrite(self._records(self.replica.table.keys()))
        self.recovered = recovered
        self._duplicates: dict[str, tuple[int, str]] = {}
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick_loop, name="weak-ticker", daemon=True)
        self._ticker.start()
        ctx.log.info("weak replica recovered %d records", recovered)

    # -- client operations ---------------------------------------------------------------
    def execute(self, command: Command) -> dict[str, Any]:
        """Answer locally; writes are logged (and fsync'ed) before the reply."""
        with self.lock:
            seen = self._duplicates.get(command.client_id)
            if seen is not None and command.seq <= seen[0]:
                value = seen[1] if command.seq == seen[0] else ""
                return {"ok": True, "result": {"value": value, "duplicate": True}}
            if command.op == "get":
                value = self.replica.get(command.key)
            else:
                if command.op == "put":
                    self.replica.put(command.key, command.value)
                else:
                    self.replica.append(command.key, command.value)
                value = ""
                self.log.extend(self._records([command.key]))
                if self.fsync:
                    self.log.sync()
            self._duplicates[command.client_id] = (command.seq, value)
            outgoing = self.replica.take_messages()
        self._send(outgoing)  # eager push, asynchronous: the client does not wait for it
        return {"ok": True, "result": {"value": value, "duplicate": False}}

    # -- replication ---------------------------------------------------------------------
    def receive(self, sender: str, message: Message) -> None:
        """Merge a peer's message; newer entries are logged (without fsync: anti-entropy
        would repair what a crash loses)."""
        updates = message.entries if isinstance(message, AntiEntropy) else (message,)
        with self.lock:
            before = {u.key: self.replica.table.get(u.key) for u in updates}
            self.replica.receive(sender, message)
            changed = [key for key, old in before.items() if self.replica.table.get(key) != old]
            if changed:
                self.log.extend(self._records(changed))

    def _records(self, keys: Any) -> list[bytes]:
        table = self.replica.table
        return [
            msgpack.packb(
                [key, table[key].value, table[key].stamp.counter, table[key].stamp.node_id]
            )
            for key in keys
        ]

    def _tick_loop(self) -> None:
        ticks = 0
        while not self._stop.wait(self.tick_s):
            ticks += 1
            with self.lock:
                self.replica.tick()
                outgoing = self.replica.take_messages()
                if not self.fsync and ticks % 20 == 0:
                    self.log.sync()  # without per-write fsync: flush about once a second
            self._send(outgoing)

    def _send(self, outgoing: list[tuple[str, Message]]) -> None:
        for peer, message in outgoing:
            try:
                client = self.ctx.client(peer)
                # Fire and forget: a message lost to a partition is repaired by anti-entropy.
                client.call_async(
                    "WeakGossip.receive", self.ctx.name, message_to_wire(message), timeout=1.0
                )
            except Exception as error:  # a peer we cannot reach right now: log, carry on
                self.ctx.log.debug("gossip to %s failed: %r", peer, error)

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
