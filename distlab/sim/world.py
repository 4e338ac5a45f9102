"""The deterministic simulator for any protocol core: one thread, a virtual clock, seeded faults.

What it is: `World(system, seed, nodes)` runs one core per node (``n0 .. n{nodes-1}``), any
core that keeps the contract of `distlab.core` (``tick``, ``receive``, ``has_ready``,
``take_ready``). Each tick it delivers the messages due, then ticks every live node. After
every event it drives the node's `Ready` in the contract's order -- **persist** (the
system's storage, which survives crashes), **send** (through the seeded `SimNetwork`),
**output** (to the system's service or clients) -- and lets the system check its safety
properties. A crash discards the core object and everything the system kept only in
memory; a restart builds the core again from what was persisted. The same seed gives the
same run, event for event.

A system says how it runs here by subclassing `SimSystem` (its documented hooks: `boot`,
`persist`, `output`, `after_event`, `crashed`, ...). `World` satisfies
`distlab.core.ClusterControl`, so a scenario, a nemesis or a panel written for real
processes (`distlab.cluster.Cluster`) runs here too, in virtual time (`wait_for`).

What it must never do: read the wall clock, sleep, use the global `random`, know any one
protocol, or reach into a core's private state (it calls the contract's methods only).
Where it fits: the first of the two drivers (the other runs real processes). Raft's
simulator with the 6.824 lab helpers (`distlab.sim.simulation.Simulation`) is a World;
the weak and quorum KV stores run in one too (`distlab.kv.simulated`).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NoReturn, TypeVar

from distlab.core import Core, Envelope, NodeId, StatusMap
from distlab.sim.clock import EventQueue
from distlab.sim.failures import SafetyViolation, SimulationFailure
from distlab.sim.network import RELIABLE, UNRELIABLE, NetworkConfig, SimNetwork

__all__ = [
    "SimNodeStatus",
    "SimSystem",
    "TimelineEvent",
    "World",
    "WorldStatistics",
    "check_client_rates",
]

_T = TypeVar("_T")


def check_client_rates(write_fraction: float, busy: float) -> None:
    """ValueError unless ``write_fraction`` (the share of requests that write) is in [0, 1]
    and ``busy`` (a simulated client's chance to start a request each tick) in (0, 1]."""
    if not 0.0 <= write_fraction <= 1.0:
        raise ValueError(f"write_fraction must be in [0, 1], got {write_fraction}")
    if not 0.0 < busy <= 1.0:
        raise ValueError(f"busy must be in (0, 1], got {busy}")


@dataclass(frozen=True)
class TimelineEvent:
    """Something worth drawing: a role or term change, a crash, a restart, a network change."""

    time: int
    node_id: NodeId | None
    kind: str  # a role ("follower", "leader", ...) | "crash" | "restart" | "pause" | "resume"
    #            | "network"
    term: int = 0
    detail: str = ""


@dataclass(frozen=True)
class SimNodeStatus:
    """One simulated node as a controller sees it (the shape of `distlab.core.NodeView`)."""

    name: NodeId
    state: str  # "up" | "paused" | "crashed"
    alive: bool
    fields: dict[str, Any] = field(default_factory=dict)
    pid: int | None = None  # a simulated node has no process (the panel shows a pid if any)


@dataclass(frozen=True)
class WorldStatistics:
    """A summary of a run so far."""

    seed: int
    now: int
    alive: tuple[NodeId, ...]
    messages_sent: int
    messages_delivered: int
    messages_dropped: int
    requests_sent: int
    bytes_sent: int


class SimSystem:
    """How one protocol runs in a `World`. Subclass it and override the hooks you need.

    The hooks, in the order a World calls them:

    - `boot(node_id, peers, rng)` -> a core, built from what the node persisted (a first
      start finds nothing persisted). Also create what the node keeps in memory beside the
      core (its service): a crash loses it.
    - `persist(node_id, core, ready)`: make the Ready's durable part survive crashes.
    - `output(node_id, core, item)`: one of ``ready.outputs`` (an applied command, an
      answer), in order.
    - `after_event(node_id, core)`: check safety after every event; raise
      `SafetyViolation` (through ``world.violation``) when a property breaks.
    - `crashed(node_id)`: the node was killed: drop what it kept in memory.
    - `fields(core)`: status fields for `World.status` (role, term, ...).
    - `role(core)`: a (role, term) pair drawn on the timeline when it changes, or None.
    - `message_size(message)`, `is_request(cls)`: for the network's traffic counters.
    """

    world: World

    def bind(self, world: World) -> None:
        """Called once by the World before any node boots."""
        self.world = world

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Core:
        raise NotImplementedError(f"{type(self).__name__} must say how a node boots")

    def persist(self, node_id: NodeId, core: Any, ready: Any) -> None:
        """Nothing to persist by default (a core whose Ready has no durable part)."""

    def output(self, node_id: NodeId, core: Any, item: Any) -> None:
        """Outputs are dropped by default."""

    def after_event(self, node_id: NodeId, core: Any) -> None:
        """No safety check by default."""

    def crashed(self, node_id: NodeId) -> None:
        """Nothing kept in memory beside the core by default."""

    def fields(self, core: Any) -> dict[str, Any]:
        statistics = getattr(core, "statistics", None)
        return dict(vars(statistics())) if callable(statistics) else {}

    def role(self, core: Any) -> tuple[Any, int] | None:
        return None

    def message_size(self, message: Any) -> int:
        return 0

    def is_request(self, cls: type) -> bool:
        return False


class World:
    """Seeded cores on a virtual clock; see the module docstring."""

    def __init__(
        self,
        system: SimSystem,
        seed: int = 0,
        nodes: int = 3,
        *,
        network: NetworkConfig = RELIABLE,
        ticks_per_second: int = 100,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a cluster needs at least one node, got {nodes}")
        if ticks_per_second < 1:
            raise ValueError(f"ticks_per_second must be at least 1, got {ticks_per_second}")
        self.seed = seed
        self.system = system
        self.ticks_per_second = ticks_per_second
        self.node_ids: tuple[NodeId, ...] = tuple(f"n{i}" for i in range(nodes))
        self._rng = random.Random(seed)
        self._queue = EventQueue()
        self.network = SimNetwork(
            random.Random(self._rng.getrandbits(64)),
            network,
            message_size=system.message_size,
            is_request=system.is_request,
        )
        self.nodes: dict[NodeId, Any] = {}
        # Paused nodes (SIGSTOP's simulated twin): no ticks, and what arrives waits here.
        self._paused: dict[NodeId, list[Envelope]] = {}
        self.timeline: list[TimelineEvent] = []
        self._last_role: dict[NodeId, tuple[Any, int] | None] = {}
        self.observers: list[Callable[[int, Envelope], None]] = []
        """Functions called with (tick, envelope) for every delivered message."""
        system.bind(self)
        for node_id in self.node_ids:
            self._start(node_id)

    @property
    def names(self) -> list[NodeId]:
        """Node names, in order (`distlab.core.ClusterControl`'s name for ``node_ids``)."""
        return list(self.node_ids)

    # ==========================================================================================
    # Time
    # ==========================================================================================

    @property
    def now(self) -> int:
        """The current tick."""
        return self._queue.now

    def history_clock(self) -> Callable[[], int]:
        """A clock for a `distlab.check.History` of this world's clients: the tick, then the
        order of calls within it (so a call that ends before another begins, even in the
        same tick, is ordered before it)."""
        calls = itertools.count()
        return lambda: self.now * 1_000_000 + next(calls)

    def run_for(self, ticks: int) -> None:
        """Advance ``ticks`` ticks: each delivers due messages, then ticks every live node."""
        try:
            for _ in range(ticks):
                self._step()
        except SimulationFailure:
            raise
        except AssertionError as error:  # an invariant the core asserts about itself
            raise SafetyViolation("Core invariant", f"{error}{self._context()}") from error

    def run_until(self, condition: Callable[[], bool], max_ticks: int) -> bool:
        """Run tick by tick until ``condition()`` holds (True) or ``max_ticks`` pass (False)."""
        for _ in range(max_ticks):
            if condition():
                return True
            self.run_for(1)
        return condition()

    def wait_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """`run_until` in virtual seconds (``ticks_per_second`` ticks each): ClusterControl's
        way to let time pass, so one scenario reads the same here and on real processes."""
        return self.run_until(condition, max(1, round(timeout_s * self.ticks_per_second)))

    def _step(self) -> None:
        queue = self._queue
        queue.now += 1
        # The messages due now, a tick's worth at a time, in the order they were sent.
        due = queue.take_due()
        while due is not None:
            for envelope in due:
                self._deliver(envelope)
            due = queue.take_due()
        paused = self._paused
        for node_id, node in self.nodes.items():  # in node_ids order (keys never move)
            if node is not None and (not paused or node_id not in paused):
                node.tick()
                if node.has_ready():
                    self._drain(node_id, node)

    # ==========================================================================================
    # The driver: deliver, persist, send, output
    # ==========================================================================================

    def _deliver(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.dst]
        network = self.network
        if node is None or not network.can_deliver(envelope.src, envelope.dst):
            network.dropped += 1
            return
        held = self._paused.get(envelope.dst) if self._paused else None
        if held is not None:
            held.append(envelope)  # a frozen process's socket buffer: read on resume
            return
        network.delivered += 1
        if self.observers:
            for observer in self.observers:
                observer(self._queue.now, envelope)
        node.receive(envelope.src, envelope.message)
        self._drain(envelope.dst, node)

    def _drain(self, node_id: NodeId, node: Any) -> None:
        system = self.system
        queue = self._queue
        now = queue.now
        transmit = self.network.transmit
        while node.has_ready():
            ready = node.take_ready()
            # 1. persist: the node's messages are only valid once this is durable.
            system.persist(node_id, node, ready)
            # 2. send
            for envelope in ready.messages:
                for arrival in transmit(envelope, now):
                    queue.schedule(arrival, envelope)
            # 3. output
            for item in ready.outputs:
                system.output(node_id, node, item)
        system.after_event(node_id, node)
        state = system.role(node)
        if self._last_role[node_id] != state:
            self._last_role[node_id] = state
            if state is not None:
                role, term = state
                self.timeline.append(
                    TimelineEvent(now, node_id, str(getattr(role, "value", role)), term)
                )

    # ==========================================================================================
    # Clients
    # ==========================================================================================

    def operate(self, node_id: NodeId, operation: Callable[[Any], _T]) -> _T | None:
        """Run ``operation(core)`` on a live node (a client's request arriving there), then
        drive what it produced; None if the node is crashed."""
        node = self.nodes[node_id]
        if node is None:
            return None
        result = operation(node)
        self._drain(node_id, node)
        return result

    # ==========================================================================================
    # Faults (distlab.core.ClusterControl)
    # ==========================================================================================

    def crash(self, node_id: NodeId) -> None:
        """Kill a node: its memory is lost; only what it persisted survives."""
        self._require(node_id)
        if self.nodes[node_id] is None:
            return
        self.nodes[node_id] = None
        self._paused.pop(node_id, None)
        self._last_role[node_id] = None
        self.system.crashed(node_id)
        self.timeline.append(TimelineEvent(self.now, node_id, "crash"))

    def restart(self, node_id: NodeId) -> None:
        """Start a node again from what it persisted (crashing it first if it is running)."""
        self._require(node_id)
        if self.nodes[node_id] is not None:
            self.crash(node_id)
        self._start(node_id)
        self.timeline.append(TimelineEvent(self.now, node_id, "restart"))

    def _start(self, node_id: NodeId) -> None:
        peers = tuple(peer for peer in self.node_ids if peer != node_id)
        node = self.system.boot(node_id, peers, random.Random(self._rng.getrandbits(64)))
        self.nodes[node_id] = node
        self._last_role[node_id] = self.system.role(node)
        if node.has_ready():
            self._drain(node_id, node)

    def pause(self, node_id: NodeId) -> None:
        """Freeze a node: it keeps its state but neither ticks nor reads its messages."""
        self._require(node_id)
        if self.nodes[node_id] is not None and node_id not in self._paused:
            self._paused[node_id] = []
            self.timeline.append(TimelineEvent(self.now, node_id, "pause"))

    def resume(self, node_id: NodeId) -> None:
        """Let a paused node go on: it reads, in order, what arrived while it was frozen."""
        self._require(node_id)
        held = self._paused.pop(node_id, None)
        if held is None:
            return
        self.timeline.append(TimelineEvent(self.now, node_id, "resume"))
        for envelope in held:
            self._deliver(envelope)

    def alive(self, node_id: NodeId) -> bool:
        """True if the node is running (not crashed)."""
        return self.nodes[node_id] is not None

    def connected(self, node_id: NodeId) -> bool:
        """True if the node is running and not disconnected (6.824's notion of "connected")."""
        return self.nodes[node_id] is not None and self.network.is_connected(node_id)

    def disconnect(self, node_id: NodeId) -> None:
        """Cut a node off from everyone, both ways."""
        self._require(node_id)
        self.network.disconnect(node_id)
        self.timeline.append(TimelineEvent(self.now, node_id, "network", detail="disconnect"))

    def connect(self, node_id: NodeId) -> None:
        """Undo `disconnect`."""
        self._require(node_id)
        self.network.connect(node_id)
        self.timeline.append(TimelineEvent(self.now, node_id, "network", detail="connect"))

    def isolate(self, node_id: NodeId) -> None:
        """Cut one node off from all the others (`distlab.cluster.Cluster`'s name for it)."""
        self.partition([node_id], [other for other in self.node_ids if other != node_id])

    def partition(self, *groups: Iterable[NodeId]) -> None:
        """Split the network into groups that cannot reach each other (replaces earlier cuts)."""
        listed = [list(group) for group in groups]
        for group in listed:
            for node_id in group:
                self._require(node_id)
        self.network.partition(*listed)
        text = " | ".join(",".join(group) for group in listed)
        self.timeline.append(TimelineEvent(self.now, None, "network", detail=f"partition {text}"))

    def block(self, src: NodeId, dst: NodeId) -> None:
        """One-way partition: ``src`` can no longer reach ``dst``."""
        self._require(src)
        self._require(dst)
        self.network.block(src, dst)
        self.timeline.append(TimelineEvent(self.now, None, "network", detail=f"block {src}->{dst}"))

    def heal(self) -> None:
        """Remove every partition, block and disconnection."""
        self.network.heal()
        self.timeline.append(TimelineEvent(self.now, None, "network", detail="heal"))

    def set_network(self, config: NetworkConfig) -> None:
        """Change the network's reliability (e.g. `RELIABLE` or `UNRELIABLE`) from now on."""
        self.network.config = config

    def set_unreliable(self, unreliable: bool = True) -> None:
        """6.824's ``setunreliable``: switch between `UNRELIABLE` and `RELIABLE`."""
        self.set_network(UNRELIABLE if unreliable else RELIABLE)

    def _require(self, node_id: NodeId) -> None:
        if node_id not in self.nodes:
            raise ValueError(f"no node named {node_id!r}; nodes are {list(self.node_ids)}")

    # ==========================================================================================
    # Observing
    # ==========================================================================================

    def status(self, timeout_s: float | None = None) -> StatusMap:
        """Each node's state and the system's status fields for its core (``timeout_s`` is
        accepted for `distlab.cluster.Cluster`'s signature: nothing here can be slow).
        A dict of `SimNodeStatus`; printed, a table with each node's role and term."""
        statuses = StatusMap()
        for node_id, node in self.nodes.items():
            if node is None:
                statuses[node_id] = SimNodeStatus(node_id, "crashed", False)
            else:
                state = "paused" if node_id in self._paused else "up"
                fields = self.system.fields(node)
                statuses[node_id] = SimNodeStatus(node_id, state, state == "up", fields)
        return statuses

    def statistics(self) -> WorldStatistics:
        """Counters for the run so far."""
        network = self.network
        return WorldStatistics(
            seed=self.seed,
            now=self.now,
            alive=tuple(node_id for node_id in self.node_ids if self.alive(node_id)),
            messages_sent=network.sent,
            messages_delivered=network.delivered,
            messages_dropped=network.dropped,
            requests_sent=network.requests_sent,
            bytes_sent=network.bytes_sent,
        )

    def fail(self, message: str) -> NoReturn:
        """Raise a SimulationFailure with the seed and the tick appended."""
        raise SimulationFailure(message + self._context())

    def violation(self, property_name: str, detail: str) -> NoReturn:
        """Raise a SafetyViolation naming the property, with the seed and the tick appended."""
        raise SafetyViolation(property_name, f"{property_name} violated: {detail}{self._context()}")

    def _context(self) -> str:
        seed = self.seed
        return f" [seed={seed}, tick={self._queue.now}; replay with pytest ... --seed {seed}]"
