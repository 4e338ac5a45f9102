"""The deterministic Raft simulator: a `World` of RaftNode cores, with the 6.824 lab helpers.

What it is: `Simulation(seed)` is a `distlab.sim.World` whose system is Raft
(`RaftSimSystem`): each node's `Ready` is persisted to its `SimDisk`, its
committed entries are applied to a `SimService` (a digest of every command), and
the `SafetyChecker` looks at what changed after every event. A crash discards the
node object and its service; a restart rebuilds both from the disk alone. The
same seed gives the same run, event for event.

It also offers the helpers of the MIT 6.824 Raft lab, written anew for a virtual
clock: `one`, `check_one_leader`, `check_no_leader`, `check_terms`,
`n_committed`, `wait`. They fail with a `SimulationFailure` that names the seed.
(They keep the lab's names on purpose: `check_one_leader` *waits* for a leader,
as in the lab, so a learner can map each scenario onto the 6.824 test it mirrors.)

What it must never do: read the wall clock, sleep, use the global `random`, or
reach into a node's private state to change it (it reads public fields only).
Where it fits: the simulator half of Raft's two drivers (the other runs real
processes); tests, sweeps, `distlab.viz.raft_timeline` and the notebooks build on
it. A subclass may extend it through two documented hooks: `node_starting(node_id)`
(a node is about to boot, first start or restart: create what lives beside its core)
and `apply_entry(node_id, node, item)` (one entry of the apply channel; call
``super().apply_entry``) -- `distlab.sim.kv_sim` and `distlab.kv.simulated` do.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Any

from distlab.raft.core import RaftConfig, RaftNode, Role
from distlab.raft.messages import REQUESTS, NodeId, message_size
from distlab.raft.ready import (
    ApplyMsg,
    CommandApplied,
    NotLeader,
    Proposed,
    ReadReady,
    ReadRefused,
    Ready,
)
from distlab.sim.disk import SimDisk
from distlab.sim.network import RELIABLE, NetworkConfig
from distlab.sim.safety import SafetyChecker
from distlab.sim.world import SimSystem, TimelineEvent, World, WorldStatistics

__all__ = [
    "RaftSimSystem",
    "SimRead",
    "SimService",
    "Simulation",
    "SimulationStatistics",
    "TimelineEvent",
]


@dataclass(frozen=True)
class SimulationStatistics(WorldStatistics):
    """A World's counters, plus Raft's: who led each term, and how many safety checks ran."""

    leaders_by_term: dict[int, NodeId]
    safety_checks: int


@dataclass(frozen=True)
class SimRead:
    """A read answered by ``node``'s service when it had applied up to ``index``."""

    node: NodeId
    index: int
    digest: int


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


class RaftSimSystem(SimSystem):
    """How Raft runs in a `World`: a SimDisk per node, a SimService, Raft's safety checks."""

    world: Simulation

    def __init__(
        self,
        node_ids: tuple[NodeId, ...],
        *,
        config: RaftConfig,
        node_cls: type[RaftNode],
        check_safety: bool,
    ) -> None:
        self.config = config
        self.node_cls = node_cls
        self.check_safety = check_safety
        self.disks: dict[NodeId, SimDisk] = {node_id: SimDisk() for node_id in node_ids}
        self.services: dict[NodeId, SimService] = {}
        self.checker: SafetyChecker | None = None
        self.highest_commit = 0  # the highest index any node has known to be committed

    def bind(self, world: World) -> None:
        super().bind(world)
        if self.check_safety:
            self.checker = SafetyChecker(world._context)

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> RaftNode:
        self.world.node_starting(node_id)
        node = self.node_cls(
            node_id, list(peers), rng=rng, config=self.config, persisted=self.disks[node_id].load()
        )
        self.services[node_id] = SimService()
        return node

    def persist(self, node_id: NodeId, core: RaftNode, ready: Ready) -> None:
        self.disks[node_id].save(ready)
        checker = self.checker
        if checker is not None and ready.log_from is not None:
            checker.on_entries(node_id, ready.entries, core.log.term_at(ready.log_from - 1))

    def output(self, node_id: NodeId, core: RaftNode, item: Any) -> None:
        self.world.apply_entry(node_id, core, item)

    def after_event(self, node_id: NodeId, core: RaftNode) -> None:
        if core.commit_index > self.highest_commit:
            self.highest_commit = core.commit_index
        if self.checker is not None:
            self.checker.after_event(core)

    def fields(self, core: RaftNode) -> dict[str, Any]:
        return core.status()

    def role(self, core: RaftNode) -> tuple[Role, int]:
        return (core.role, core.current_term)

    def message_size(self, message: Any) -> int:
        return message_size(message)

    def is_request(self, cls: type) -> bool:
        return issubclass(cls, REQUESTS)


class Simulation(World):
    """A seeded Raft cluster on a virtual clock. Node names are ``n0 .. n{nodes-1}``."""

    system: RaftSimSystem

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
        self.config = config or RaftConfig()
        self.snapshot_interval = snapshot_interval
        self.node_cls = node_cls
        system = RaftSimSystem(
            tuple(f"n{i}" for i in range(nodes)),
            config=self.config,
            node_cls=node_cls,
            check_safety=check_safety,
        )
        self._reads_started = 0
        self._read_floor: dict[int, int] = {}
        self.reads: dict[int, SimRead | ReadRefused] = {}
        """Answered reads: `SimRead` (what the service held when it answered) or `ReadRefused`."""
        super().__init__(system, seed, nodes, network=network)

    @property
    def checker(self) -> SafetyChecker | None:
        """Raft's safety checker (None when built with ``check_safety=False``)."""
        return self.system.checker

    @property
    def disks(self) -> dict[NodeId, SimDisk]:
        """Each node's simulated disk (what survives its crashes)."""
        return self.system.disks

    @property
    def services(self) -> dict[NodeId, SimService]:
        """Each node's service (replaced on restart)."""
        return self.system.services

    # ==========================================================================================
    # Hooks: subclasses extend these (see the module docstring)
    # ==========================================================================================

    def node_starting(self, node_id: NodeId) -> None:
        """A node is about to boot (first start or restart); nothing to do by default."""

    def apply_entry(self, node_id: NodeId, node: RaftNode, item: ApplyMsg) -> None:
        """One entry of a node's apply channel: fed to its `SimService` and checked."""
        service = self.services[node_id]
        checker = self.checker
        if isinstance(item, ReadReady | ReadRefused):
            self._answer_read(node_id, service, item)
        elif isinstance(item, CommandApplied):
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
    # Clients and observing
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

    def read(self, node_id: NodeId, *, follower_ok: bool = False) -> int | NotLeader | None:
        """Start a linearizable read on one node without a log entry (ReadIndex, §6.4).

        Returns the read's number (its answer appears in ``reads`` once the node has
        confirmed it still leads and applied far enough), `NotLeader`, or None if the node
        is crashed. With ``follower_ok`` a follower that knows its leader takes the read too:
        it asks the leader for a read index and answers from its own service (follower
        reads). The simulator checks the answer: **"Reads See Completed Writes"** --
        the service answering it has applied at least every index that any node knew to
        be committed when the read began.
        """
        node = self.nodes[node_id]
        if node is None:
            return None
        self._reads_started += 1
        request = self._reads_started
        # Without the option, the plain call: a subclass's own read_index need not know it.
        if follower_ok:
            refused = node.read_index(request, follower_ok=True)
        else:
            refused = node.read_index(request)
        if refused is not None:
            return refused
        self._read_floor[request] = self.system.highest_commit
        self._drain(node_id, node)
        return request

    def _answer_read(
        self, node_id: NodeId, service: SimService, item: ReadReady | ReadRefused
    ) -> None:
        floor = self._read_floor.pop(item.request, None)
        if isinstance(item, ReadRefused):
            self.reads[item.request] = item
            return
        if floor is not None and service.applied_index < floor:
            self.violation(
                "Reads See Completed Writes",
                f"{node_id} answered read {item.request} from index {service.applied_index}, "
                f"but index {floor} was committed before the read began",
            )
        self.reads[item.request] = SimRead(node_id, service.applied_index, service.digest)

    def statistics(self) -> SimulationStatistics:
        """The World's counters for the run so far, and Raft's."""
        checker = self.checker
        return SimulationStatistics(
            **vars(super().statistics()),
            leaders_by_term=dict(checker.leader_of_term) if checker else {},
            safety_checks=checker.checks if checker else 0,
        )

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
