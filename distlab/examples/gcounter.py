"""The smallest complete system: a replicated counter (a G-Counter), in both drivers.

What it is: the worked example of docs/ADDING_A_SYSTEM.md, every piece a chapter's system
has, each a few lines long:

1. **the core** (`CounterReplica`): each node counts its own increments; a replica's view
   is one count per node, merged by taking the larger of each, so replicas agree once they
   have heard from each other, whatever order messages arrive in (a CRDT). Inputs are
   ``tick``, ``receive`` and ``increment``; the output is one `CounterReady`: the node's own
   count to persist, then gossip to send.
2. **the simulator's face** (`CounterSimSystem`): how a node boots from what it persisted,
   what persisting means, and the safety check run after every event (a node's view never
   goes backwards; nobody counts more increments of a node than that node made).
3. **the node program** (`CounterNode`): the same core in a real process. The generic
   `distlab.cluster.CoreNode` drives it (a ticker, gossip over rpc, persist before send);
   the counter adds how it boots from its file, how it persists, its client RPCs and its
   ``client_for``.
4. **the client** (`CounterClient`): ``increment(node)`` and ``value(node)``.
5. **the system** (`COUNTER`): ``Cluster.start(3, service=COUNTER)``; registered under a
   name in pyproject's ``distlab.systems`` entry points, it would be ``service="counter"``.

The widget comes free: `distlab.widgets.ClusterPanel` draws any cluster, real or simulated.

What it must never do: read the clock or the global random module in the core.
Where it fits: tests/core/test_adding_a_system.py runs it simulated and in real processes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from distlab.cluster.core_node import CoreNode
from distlab.cluster.program import NodeContext
from distlab.cluster.system import Chosen
from distlab.core import Envelope, MessageCodec, NodeId, Ready, derive_seed
from distlab.sim.world import SimSystem
from distlab.storage import read_snapshot, write_snapshot

# -- 1. the core ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """Gossip: the sender's view, one count per node (as a tuple of pairs: messages are
    immutable)."""

    counts: tuple[tuple[str, int], ...]


CODEC = MessageCodec((Counts,))


@dataclass(frozen=True)
class CounterReady(Ready):
    """The counter's `Ready`: its own count to persist (None: unchanged)."""

    own_count: int | None = None

    @property
    def must_persist(self) -> bool:
        return self.own_count is not None


class CounterReplica:
    """One node's counter (see the module docstring). Pure: no I/O, no clock."""

    def __init__(
        self, node_id: NodeId, peers: list[NodeId], rng: random.Random, own_count: int = 0
    ) -> None:
        self.node_id = node_id
        self.peers = list(peers)
        self.rng = rng
        self.counts: dict[str, int] = {node_id: own_count}
        self._dirty = False
        self._outbox: list[Envelope] = []

    def increment(self) -> None:
        self.counts[self.node_id] += 1
        self._dirty = True

    def value(self) -> int:
        return sum(self.counts.values())

    def tick(self) -> None:
        if self.peers:  # gossip to one random peer per tick
            peer = self.rng.choice(self.peers)
            message = Counts(tuple(sorted(self.counts.items())))
            self._outbox.append(Envelope(self.node_id, peer, message))

    def receive(self, sender: NodeId, message: Counts) -> None:
        for node, count in message.counts:
            if node != self.node_id:  # our own count we know best (it is on our disk)
                self.counts[node] = max(self.counts.get(node, 0), count)

    def has_ready(self) -> bool:
        return self._dirty or bool(self._outbox)

    def take_ready(self) -> CounterReady:
        own = self.counts[self.node_id] if self._dirty else None
        messages, self._outbox, self._dirty = self._outbox, [], False
        return CounterReady(messages=messages, own_count=own)


# -- 2. the simulator's face -------------------------------------------------------------------


class CounterSimSystem(SimSystem):
    """The counter in a `distlab.sim.World`: its disk, and its safety check."""

    def __init__(self) -> None:
        self.disk: dict[NodeId, int] = {}  # each node's persisted own count
        self.increments: dict[NodeId, int] = {}  # what clients did (the checker's truth)
        self._seen: dict[NodeId, dict[str, int]] = {}

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        return CounterReplica(node_id, list(peers), rng, self.disk.get(node_id, 0))

    def persist(self, node_id: NodeId, core: CounterReplica, ready: CounterReady) -> None:
        if ready.own_count is not None:
            self.disk[node_id] = ready.own_count

    def after_event(self, node_id: NodeId, core: CounterReplica) -> None:
        before = self._seen.get(node_id, {})
        for node, count in core.counts.items():
            if count < before.get(node, 0):
                self.world.violation("Monotonic", f"{node_id}'s count of {node} went back")
            if count > self.increments.get(node, 0):
                self.world.violation("No invention", f"{node_id} counts {count} for {node}")
        self._seen[node_id] = dict(core.counts)

    def crashed(self, node_id: NodeId) -> None:
        self._seen.pop(node_id, None)  # a restarted node may know less of the others

    def fields(self, core: CounterReplica) -> dict[str, Any]:
        return {"value": core.value()}

    def increment(self, node_id: NodeId) -> bool:
        """A client's increment at ``node_id`` (through the World, so it is driven); False
        if that node is down (nothing happened)."""
        if not self.world.alive(node_id):
            return False
        self.increments[node_id] = self.increments.get(node_id, 0) + 1  # the truth first
        self.world.operate(node_id, lambda core: core.increment())
        return True


# -- 3. the node program and 4. its client -----------------------------------------------------


class _CounterRPC:
    def __init__(self, node: CounterNode) -> None:
        self._node = node

    def increment(self) -> int:
        """Count one; durable before it answers. Returns this node's view of the total."""
        return self._node.run(lambda core: (core.increment(), core.value())[1])

    def value(self) -> int:
        return self._node.run(lambda core: core.value())


class CounterNode(CoreNode):
    """The counter in a real process: `CoreNode` drives the core (ticks, gossip over rpc,
    persist before send); this class says how it boots, persists, and what clients call."""

    codec = CODEC

    def __init__(self, ctx: NodeContext) -> None:
        self.path = ctx.data_dir / "count"  # before CoreNode's __init__ boots the core
        super().__init__(ctx)

    def boot(self) -> CounterReplica:
        own = int(read_snapshot(self.path) or b"0")  # None: never written
        rng = random.Random(derive_seed(self.ctx.seed, "gossip"))
        self.counter = CounterReplica(self.ctx.name, sorted(self.ctx.peers), rng, own)
        return self.counter

    def persist(self, ready: Ready) -> None:
        if isinstance(ready, CounterReady) and ready.own_count is not None:
            write_snapshot(self.path, str(ready.own_count).encode())  # fsync'ed

    def services(self) -> dict[str, object]:
        return {"Counter": _CounterRPC(self), **super().services()}

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {"value": self.counter.value()}

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> CounterClient:
        return CounterClient(cluster)


@dataclass
class CounterClient:
    """Increments and reads at a chosen node."""

    cluster: Any
    _clients: dict[str, Any] = field(default_factory=dict)

    def increment(self, node: str) -> int:
        return self._client(node).call("Counter.increment", timeout=5.0)

    def value(self, node: str) -> int:
        return self._client(node).call("Counter.value", timeout=5.0)

    def _client(self, node: str) -> Any:
        if node not in self._clients:
            self._clients[node] = self.cluster.client(node, client_name="counter-client")
        return self._clients[node]

    def close(self) -> None:
        """The cluster closes the connections it handed out."""


# -- 5. the system -----------------------------------------------------------------------------


class CounterSystem:
    """``Cluster.start(n, service=COUNTER)``: one program, no options of its own."""

    def choose(self, **options: Any) -> Chosen:
        return Chosen(CounterNode, options, {})


COUNTER = CounterSystem()
