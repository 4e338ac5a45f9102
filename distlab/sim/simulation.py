"""The deterministic Raft simulator: one thread, a virtual clock, a seeded faulty network.

What it is: `Simulation(seed)` runs a cluster of `RaftNode` cores. Each tick it
delivers the messages due, then ticks every live node. After every event it
drives the node's `Ready` in the contract's order (persist to the node's
`SimDisk`, send through the `SimNetwork`, apply to the node's service) and lets
the `SafetyChecker` look at what changed. A crash discards the node object and
its service; a restart rebuilds both from the disk alone. The same seed gives the
same run, event for event.

It also offers the helpers of the MIT 6.824 Raft lab, written anew for a virtual
clock: `one`, `check_one_leader`, `check_no_leader`, `check_terms`,
`n_committed`, `wait`. They fail with a `SimulationFailure` that names the seed.

What it must never do: read the wall clock, sleep, use the global `random`, or
reach into a node's private state to change it (it reads public fields only).
Where it fits: the first of Raft's two drivers (the other runs real processes);
tests, sweeps, `distlab.viz.raft_timeline` and the notebooks build on it.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from distlab.raft.core import RaftConfig, RaftNode, Role
from distlab.raft.messages import Envelope, NodeId
from distlab.raft.ready import CommandApplied, NotLeader, Proposed, SnapshotApplied
from distlab.sim.clock import EventQueue
from distlab.sim.disk import SimDisk
from distlab.sim.network import RELIABLE, UNRELIABLE, NetworkConfig, SimNetwork
from distlab.sim.safety import SafetyChecker, SafetyViolation, SimulationFailure


@dataclass(frozen=True)
class TimelineEvent:
    """Something worth drawing: a role or term change, a crash, a restart, a network change."""

    time: int
    node_id: NodeId | None
    kind: str  # "follower" | "candidate" | "leader" | "crash" | "restart" | "network"
    term: int = 0
    detail: str = ""


@dataclass(frozen=True)
class SimulationStatistics:
    """A summary of a run so far."""

    seed: int
    now: int
    alive: tuple[NodeId, ...]
    leaders_by_term: dict[int, NodeId]
    messages_sent: int
    messages_delivered: int
    messages_dropped: int
    requests_sent: int
    bytes_sent: int
    safety_checks: int


class SimService:
    """The replicated state machine of the simulator: how many commands, and a digest of them.

    The digest chains every applied command, so two services with equal digests
    at an index applied the same commands in the same order.
    """

    def __init__(self) -> None:
        self.applied_index = 0
        self.digest = 0

    def snapshot_data(self) -> bytes:
        """The service's state as bytes, for `RaftNode.snapshot`."""
        return f"{self.applied_index}:{self.digest}".encode()

    @staticmethod
    def parse(data: bytes) -> tuple[int, int]:
        """Inverse of `snapshot_data`: (applied index, digest)."""
        index, digest = data.decode().split(":")
        return int(index), int(digest)


class Simulation:
    """A seeded Raft cluster on a virtual clock. Node names are ``n0 .. n{nodes-1}``."""

    def __init__(
        self,
        seed: int = 0,
        nodes: int = 3,
        *,
        config: RaftConfig | None = None,
        network: NetworkConfig = RELIABLE,
        snapshot_interval: int | None = None,
        node_cls: type[RaftNode] = RaftNode,
        check_safety: bool = True,
    ) -> None:
        if nodes < 1:
            raise ValueError(f"a cluster needs at least one node, got {nodes}")
        self.seed = seed
        self.config = config or RaftConfig()
        self.snapshot_interval = snapshot_interval
        self.node_cls = node_cls
        self.node_ids: tuple[NodeId, ...] = tuple(f"n{i}" for i in range(nodes))
        self._rng = random.Random(seed)
        self._queue = EventQueue()
        self.network = SimNetwork(random.Random(self._rng.getrandbits(64)), network)
        self.checker: SafetyChecker | None = SafetyChecker(self._context) if check_safety else None
        self.disks: dict[NodeId, SimDisk] = {node_id: SimDisk() for node_id in self.node_ids}
        self.services: dict[NodeId, SimService] = {}
        self.nodes: dict[NodeId, RaftNode | None] = {}
        self.timeline: list[TimelineEvent] = []
        self._last_role: dict[NodeId, tuple[Role, int] | None] = {}
        self.observers: list[Callable[[int, Envelope], None]] = []
        """Functions called with (tick, envelope) for every delivered message."""
        for node_id in self.node_ids:
            self._start(node_id)

    # ==========================================================================================
    # Time
    # ==========================================================================================

    @property
    def now(self) -> int:
        """The current tick."""
        return self._queue.now

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

    def _step(self) -> None:
        queue = self._queue
        queue.now += 1
        # The messages due now, a tick's worth at a time, in the order they were sent.
        due = queue.take_due()
        while due is not None:
            for envelope in due:
                self._deliver(envelope)
            due = queue.take_due()
        for node_id, node in self.nodes.items():  # in node_ids order (keys never move)
            if node is not None:
                node.tick()
                if node.has_ready():
                    self._drain(node_id, node)

    # ==========================================================================================
    # The driver: deliver, persist, send, apply
    # ==========================================================================================

    def _deliver(self, envelope: Envelope) -> None:
        node = self.nodes[envelope.dst]
        network = self.network
        if node is None or not network.can_deliver(envelope.src, envelope.dst):
            network.dropped += 1
            return
        network.delivered += 1
        if self.observers:
            for observer in self.observers:
                observer(self._queue.now, envelope)
        node.receive(envelope.src, envelope.message)
        self._drain(envelope.dst, node)

    def _drain(self, node_id: NodeId, node: RaftNode) -> None:
        checker = self.checker
        # Looked up once per event rather than once per message (this is the hot path).
        disk = self.disks[node_id]
        queue = self._queue
        now = queue.now
        transmit = self.network.transmit
        while node.has_ready():
            ready = node.take_ready()
            # 1. persist: the node's replies are only valid once this is durable.
            disk.save(ready)
            if checker is not None and ready.log_from is not None:
                checker.on_entries(node_id, ready.entries, node.log.term_at(ready.log_from - 1))
            # 2. send
            for envelope in ready.messages:
                for arrival in transmit(envelope, now):
                    queue.schedule(arrival, envelope)
            # 3. apply
            for item in ready.committed:
                self._apply(node_id, node, item)
        if checker is not None:
            checker.after_event(node)
        state = (node.role, node.current_term)
        if self._last_role[node_id] != state:
            self._last_role[node_id] = state
            self.timeline.append(TimelineEvent(now, node_id, node.role.value, node.current_term))

    def _apply(
        self, node_id: NodeId, node: RaftNode, item: CommandApplied | SnapshotApplied
    ) -> None:
        service = self.services[node_id]
        checker = self.checker
        if isinstance(item, CommandApplied):
            if item.index != service.applied_index + 1 and checker is not None:
                checker.apply_order_failure(node_id, service.applied_index + 1, item.index)
            service.applied_index = item.index
            service.digest = zlib.crc32(repr(item.command).encode(), service.digest)
            if checker is not None:
                checker.on_applied(node_id, item.index, item.command, service.digest)
            if (
                self.snapshot_interval is not None
                and item.index - node.log.snapshot_index >= self.snapshot_interval
            ):
                node.snapshot(item.index, service.snapshot_data())
        else:
            index, digest = SimService.parse(item.data)
            if checker is not None:
                if index != item.index or index <= service.applied_index:
                    checker.apply_order_failure(node_id, service.applied_index + 1, item.index)
                checker.on_snapshot_applied(node_id, index, digest)
            service.applied_index = index
            service.digest = digest

    # ==========================================================================================
    # Clients and faults
    # ==========================================================================================

    def propose(self, node_id: NodeId, command: Any) -> Proposed | NotLeader | None:
        """Offer ``command`` to one node; None if that node is crashed."""
        node = self.nodes[node_id]
        if node is None:
            return None
        result = node.propose(command)
        if isinstance(result, Proposed):
            self._drain(node_id, node)
        return result

    def crash(self, node_id: NodeId) -> None:
        """Kill a node: its memory and service state are lost; only its SimDisk survives."""
        self._require(node_id)
        if self.nodes[node_id] is None:
            return
        self.nodes[node_id] = None
        self._last_role[node_id] = None
        self.timeline.append(TimelineEvent(self.now, node_id, "crash"))

    def restart(self, node_id: NodeId) -> None:
        """Start a node again from its disk (crashing it first if it is running)."""
        self._require(node_id)
        if self.nodes[node_id] is not None:
            self.crash(node_id)
        self._start(node_id)
        self.timeline.append(TimelineEvent(self.now, node_id, "restart"))

    def _start(self, node_id: NodeId) -> None:
        peers = [peer for peer in self.node_ids if peer != node_id]
        node = self.node_cls(
            node_id,
            peers,
            rng=random.Random(self._rng.getrandbits(64)),
            config=self.config,
            persisted=self.disks[node_id].load(),
        )
        self.nodes[node_id] = node
        self.services[node_id] = SimService()
        self._last_role[node_id] = (node.role, node.current_term)
        if node.has_ready():
            self._drain(node_id, node)

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
        if node_id not in self.disks:
            raise ValueError(f"no node named {node_id!r}; nodes are {list(self.node_ids)}")

    # ==========================================================================================
    # Observing
    # ==========================================================================================

    def status(self) -> dict[NodeId, dict[str, Any] | None]:
        """Each node's `RaftNode.status()`, or None for a crashed node."""
        return {
            node_id: (None if node is None else node.status())
            for node_id, node in self.nodes.items()
        }

    def statistics(self) -> SimulationStatistics:
        """Counters for the run so far."""
        network = self.network
        return SimulationStatistics(
            seed=self.seed,
            now=self.now,
            alive=tuple(node_id for node_id in self.node_ids if self.alive(node_id)),
            leaders_by_term=dict(self.checker.leader_of_term) if self.checker else {},
            messages_sent=network.sent,
            messages_delivered=network.delivered,
            messages_dropped=network.dropped,
            requests_sent=network.requests_sent,
            bytes_sent=network.bytes_sent,
            safety_checks=self.checker.checks if self.checker else 0,
        )

    def fail(self, message: str) -> None:
        """Raise a SimulationFailure with the seed and the tick appended."""
        raise SimulationFailure(message + self._context())

    def _context(self) -> str:
        seed = self.seed
        return f" [seed={seed}, tick={self._queue.now}; replay with pytest ... --seed {seed}]"

    # ==========================================================================================
    # The 6.824 lab helpers, on virtual time
    # ==========================================================================================

    @property
    def election_timeout_ticks(self) -> int:
        """The longest election timeout: the unit in which the helpers wait."""
        return self.config.election_timeout_ticks[1]

    def check_one_leader(self) -> NodeId:
        """Wait for exactly one leader among connected nodes (in the latest term); return it."""
        timeout = self.election_timeout_ticks
        for _ in range(10):
            self.run_for(self._rng.randint(timeout, timeout + timeout // 4))
            leaders: dict[int, list[NodeId]] = {}
            for node_id in self.node_ids:
                node = self.nodes[node_id]
                if node is not None and self.connected(node_id) and node.role is Role.LEADER:
                    leaders.setdefault(node.current_term, []).append(node_id)
            for term, ids in leaders.items():
                if len(ids) > 1:
                    self.fail(f"term {term} has {len(ids)} (>1) leaders: {ids}")
            if leaders:
                return leaders[max(leaders)][0]
        self.fail("expected one leader, got none")
        raise AssertionError("unreachable")

    def check_no_leader(self) -> None:
        """Fail if any connected node thinks it is the leader."""
        for node_id in self.node_ids:
            node = self.nodes[node_id]
            if node is not None and self.connected(node_id) and node.role is Role.LEADER:
                self.fail(f"expected no leader among connected servers, but {node_id} claims it")

    def check_terms(self) -> int:
        """All connected nodes agree on the term; return it."""
        term = -1
        for node_id in self.node_ids:
            node = self.nodes[node_id]
            if node is not None and self.connected(node_id):
                if term == -1:
                    term = node.current_term
                elif node.current_term != term:
                    self.fail("servers disagree on term")
        return term

    def n_committed(self, index: int) -> tuple[int, Any]:
        """How many live services have applied ``index``, and the command there.

        The safety checker already guarantees that all of them applied the same one.
        """
        count = 0
        for node_id in self.node_ids:
            if self.nodes[node_id] is not None and self.services[node_id].applied_index >= index:
                count += 1
        command = self.checker.command_at(index) if self.checker is not None else None
        return count, command

    def one(self, command: Any, expected_servers: int, retry: bool = True) -> int:
        """Get ``command`` committed by at least ``expected_servers`` services; return its index.

        Like 6.824's ``one``: offer it to each connected node in turn until a leader
        accepts it, wait for agreement, and try again (if ``retry``) when the leader
        lost the entry.
        """
        timeout = self.election_timeout_ticks
        deadline = self.now + 25 * timeout
        start = 0
        while self.now < deadline:
            index = -1
            for offset in range(len(self.node_ids)):
                node_id = self.node_ids[(start + offset) % len(self.node_ids)]
                if self.connected(node_id):
                    result = self.propose(node_id, command)
                    if isinstance(result, Proposed):
                        index = result.index
                        break
            start = (start + 1) % len(self.node_ids)
            if index != -1:
                agreement_deadline = self.now + 5 * timeout
                while self.now < agreement_deadline:
                    count, committed = self.n_committed(index)
                    if count > 0 and count >= expected_servers and committed == command:
                        return index
                    self.run_for(1)
                if not retry:
                    self.fail(f"one({command!r}) failed to reach agreement")
            else:
                self.run_for(max(1, timeout // 4))
        self.fail(f"one({command!r}) failed to reach agreement")
        raise AssertionError("unreachable")

    def wait(self, index: int, n: int, start_term: int | None = None) -> Any:
        """Wait until at least ``n`` services applied ``index``; return the command there.

        Returns None if some node moved past ``start_term`` (the leader changed) first.
        """
        for _ in range(20 * self.election_timeout_ticks):
            count, _ = self.n_committed(index)
            if count >= n:
                break
            if start_term is not None:
                for node in self.nodes.values():
                    if node is not None and node.current_term > start_term:
                        return None
            self.run_for(1)
        count, command = self.n_committed(index)
        if count < n:
            self.fail(f"only {count} services applied index {index}, wanted {n}")
        return command
