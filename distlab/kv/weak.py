"""A weakly consistent (弱一致) KV replica: serve locally, propagate later, last writer wins.

The opposite end of the design space from the Raft-backed store. Every replica
accepts reads and writes on its own, with no coordination, so it stays
available (可用性) through any partition. Writes then travel to the other
replicas in two ways:

- *eager push*: each local write is sent at once to every peer (cheap, but a
  message lost to a partition is simply lost);
- *anti-entropy*: every few ticks a replica sends its whole table to one peer
  chosen at random, which repairs whatever the pushes missed.

Conflicts are settled by *last writer wins* (LWW): every value carries a
Lamport timestamp (counter, node id), and a replica keeps the value with the
larger one. Once writes stop and the network heals, every replica ends with
the same table — *eventual consistency* — but meanwhile a read may return an
old value, two clients may see writes in different orders, and of two
concurrent appends one is silently lost (an append here is read-modify-write
on the local copy). Those anomalies are the point: chapter 10 measures them.

What it must never do: touch sockets, threads, the clock or global randomness.
Time is `tick()`, randomness is the injected `rng`, and what it produces collects
until a driver calls `take_ready()` (the contract of `distlab.core`): the entries
that changed, to persist; the messages, to send. Two drivers run it: the
simulator (`distlab.kv.simulated`) and a real node process (`distlab.kv.weak_node`).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field

from distlab.core import Envelope, MessageCodec, Ready


@dataclass(frozen=True, order=True)
class Stamp:
    """A Lamport timestamp; ties between nodes are broken by node id, so stamps are unique."""

    counter: int
    node_id: str


ZERO = Stamp(0, "")


@dataclass(frozen=True)
class Versioned:
    value: str
    stamp: Stamp


@dataclass(frozen=True)
class Update:
    """Eager push of one write."""

    key: str
    value: str
    stamp: Stamp


@dataclass(frozen=True)
class AntiEntropy:
    """A replica's whole table, sent to one random peer to repair missed updates."""

    entries: tuple[Update, ...]


Message = Update | AntiEntropy

CODEC = MessageCodec((Stamp, Update, AntiEntropy))
"""The weak store's messages (and its durable records: `Update`s) <-> plain data."""


@dataclass(frozen=True)
class WeakReady(Ready):
    """The weak replica's `Ready`: ``writes`` (the entries that changed) to persist first."""

    writes: list[Update] = field(default_factory=list)

    @property
    def must_persist(self) -> bool:
        return bool(self.writes)


@dataclass(frozen=True)
class WeakStatistics:
    keys: int
    local_writes: int
    merged_updates: int
    ignored_updates: int
    messages_sent: int
    lamport_clock: int


@dataclass
class WeakReplica:
    """One replica of the eventually consistent store. See the module docstring."""

    node_id: str
    peers: list[str]
    rng: random.Random
    anti_entropy_every_ticks: int = 10
    table: dict[str, Versioned] = field(default_factory=dict)
    clock: int = 0
    _outbox: list[Envelope] = field(default_factory=list)
    _changed: dict[str, None] = field(default_factory=dict)  # keys to persist, in order
    _ticks: int = 0
    _local_writes: int = 0
    _merged: int = 0
    _ignored: int = 0
    _sent: int = 0

    def __post_init__(self) -> None:
        if self.node_id in self.peers:
            raise ValueError(f"{self.node_id} cannot be its own peer")
        if self.anti_entropy_every_ticks < 1:
            raise ValueError("anti_entropy_every_ticks must be at least 1")

    # --- client operations: always answered locally, never blocked by the network ---

    def recover(self, updates: Iterable[Update]) -> int:
        """Rebuild the table from persisted entries after a restart; returns how many.

        Nothing is sent and nothing needs persisting again.
        """
        count = 0
        for update in updates:
            self._merge(update)
            count += 1
        self._changed.clear()
        self._merged = self._ignored = 0
        return count

    def get(self, key: str) -> str:
        entry = self.table.get(key)
        return entry.value if entry else ""

    def put(self, key: str, value: str) -> Stamp:
        self.clock += 1
        stamp = Stamp(self.clock, self.node_id)
        self.table[key] = Versioned(value, stamp)
        self._changed[key] = None
        self._local_writes += 1
        for peer in self.peers:
            self._send(peer, Update(key, value, stamp))
        return stamp

    def append(self, key: str, suffix: str) -> Stamp:
        """Read-modify-write on the local copy: concurrent appends elsewhere may be lost."""
        return self.put(key, self.get(key) + suffix)

    def execute(self, op: str, key: str, value: str = "") -> str:
        """One client operation, answered locally: a get's value, "" for a put or append."""
        if op == "get":
            return self.get(key)
        if op == "put":
            self.put(key, value)
        elif op == "append":
            self.append(key, value)
        else:
            raise ValueError(f"unknown operation {op!r}; expected get, put or append")
        return ""

    # --- replication ---

    def receive(self, sender: str, message: Message) -> None:
        match message:
            case Update():
                self._merge(message)
            case AntiEntropy(entries=entries):
                for update in entries:
                    self._merge(update)
            case _:
                raise TypeError(f"{self.node_id}: unexpected message from {sender}: {message!r}")

    def tick(self) -> None:
        self._ticks += 1
        if self.peers and self._ticks % self.anti_entropy_every_ticks == 0:
            peer = self.rng.choice(self.peers)
            entries = tuple(
                Update(key, entry.value, entry.stamp) for key, entry in sorted(self.table.items())
            )
            self._send(peer, AntiEntropy(entries))

    def has_ready(self) -> bool:
        """True if `take_ready` would return anything."""
        return bool(self._outbox or self._changed)

    def take_ready(self) -> WeakReady:
        """The entries that changed (persist them first), then the messages to send."""
        writes = [
            Update(key, self.table[key].value, self.table[key].stamp) for key in self._changed
        ]
        messages, self._outbox = self._outbox, []
        self._changed = {}
        return WeakReady(messages=messages, writes=writes)

    def snapshot_table(self) -> dict[str, str]:
        """The values only (what a reader could see), for comparing replicas."""
        return {key: entry.value for key, entry in sorted(self.table.items())}

    def statistics(self) -> WeakStatistics:
        return WeakStatistics(
            keys=len(self.table),
            local_writes=self._local_writes,
            merged_updates=self._merged,
            ignored_updates=self._ignored,
            messages_sent=self._sent,
            lamport_clock=self.clock,
        )

    def _merge(self, update: Update) -> None:
        # Lamport's rule: a replica's clock moves past every stamp it has seen.
        self.clock = max(self.clock, update.stamp.counter)
        current = self.table.get(update.key)
        if current is None or update.stamp > current.stamp:
            self.table[update.key] = Versioned(update.value, update.stamp)
            self._changed[update.key] = None
            self._merged += 1
        else:
            self._ignored += 1

    def _send(self, peer: str, message: Message) -> None:
        self._outbox.append(Envelope(self.node_id, peer, message))
        self._sent += 1
