"""Chains in the simulator: the safety checks, seeded clients and fault schedules, the verdict.

What it is:

- `ChainSimSystem`: a `distlab.sim.SimSystem` whose node ``n0`` is the configuration
  manager and ``n1 ..`` the chain (head first). The manager's configuration survives its
  crashes (its disk); chain nodes are fail-stop and boot with a fresh incarnation. After
  every event it checks the chain's named safety properties:

  * **Tail Acknowledges Only What Every Node Holds** -- no node knows an update as
    committed that a synced member of its epoch has not applied;
  * **CRAQ Reads Only Committed Versions** -- a read never returns a version beyond the
    highest one any tail has committed;
  * **One Epoch At A Time** -- no two nodes ever hold different chains under one epoch.

  ``stop_at_violation=False`` records violations instead of stopping the run (to let the
  linearizability checker judge a broken run too, as the no-manager demo does).
- `ChainWorkload`: seeded closed-loop clients, each with at most one request out, that
  learn the configuration from the manager (or, with no manager, from their home node),
  write at the head and read at the tail (chain replication) or at any member (CRAQ), and
  record every request in one `distlab.check.History` on a strictly increasing virtual
  clock: ``ok``, ``fail`` (refused: definite) or ``info`` (a write that timed out).
- `run_chain(seed, protocol, faults=...)`: a run with crashes and partitions of the head,
  the middle and the tail (`FAULTS`), then a heal, a wait for the chain to converge, and the
  verdict: `ChainRun` (linearizable per key, acknowledged writes lost, converged, reads
  served per node, the manager's reconfigurations).

What it must never do: read the wall clock or use unseeded randomness.
Where it fits: above `distlab.chain.core` and `distlab.chain.manager`, beside
`distlab.chain.node`, which runs the same cores in real processes.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from distlab.chain.core import PROTOCOLS, ChainNode, ChainTiming, ReadDone, Refused, WriteDone
from distlab.chain.manager import ConfigManager, ManagerReady, Reconfiguration
from distlab.chain.messages import CODEC, Members
from distlab.check import History, check_linearizable, lost_acknowledged_writes
from distlab.core import NodeId, derive_seed
from distlab.sim.network import RELIABLE, NetworkConfig
from distlab.sim.world import SimSystem, World, check_client_rates

__all__ = [
    "FAULTS",
    "MANAGER",
    "ChainRun",
    "ChainSimSystem",
    "ChainWorkload",
    "SplitBrainRun",
    "chain_world",
    "converged",
    "run_chain",
    "split_brain",
]

MANAGER = "n0"
#: What a fault schedule may do, each to the node now at that place in the chain.
FAULTS: tuple[str, ...] = (
    "crash head",
    "crash middle",
    "crash tail",
    "isolate head",
    "isolate middle",
    "isolate tail",
)


class ChainSimSystem(SimSystem):
    """How a chain runs in a `World` (see the module docstring).

    ``node_factory(node_id, **options)`` builds a chain node (a mutant, in tests);
    ``manager=False`` is the no-manager teaching switch (``n0`` then stays idle).
    """

    def __init__(
        self,
        chain_nodes: int = 3,
        *,
        protocol: str = "craq",
        manager: bool = True,
        timing: ChainTiming | None = None,
        stop_at_violation: bool = True,
        node_factory: Callable[..., ChainNode] = ChainNode,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        if not isinstance(chain_nodes, int) or not 1 <= chain_nodes <= 16:
            raise ValueError(f"chain_nodes must be 1 to 16, got {chain_nodes!r}")
        self.protocol = protocol
        self.with_manager = manager
        self.timing = timing or ChainTiming()
        self.chain_nodes = tuple(f"n{i}" for i in range(1, chain_nodes + 1))
        self.stop_at_violation = stop_at_violation
        self.node_factory = node_factory
        self.manager_disk: tuple[int, Members] | None = None
        self.completions: dict[str, WriteDone | ReadDone] = {}
        self.reconfigurations: list[Reconfiguration] = []
        self.violations: list[str] = []
        self.highest_committed = 0
        self._epochs: dict[int, Members] = {}

    # -- hooks ----------------------------------------------------------------------------------

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        if node_id == MANAGER:
            epoch, members = self.manager_disk or (0, ())
            return ConfigManager(node_id, self.chain_nodes, self.timing, epoch, members)
        return self.node_factory(
            node_id,
            manager=MANAGER if self.with_manager else None,
            protocol=self.protocol,
            incarnation=rng.randrange(1, 2**31),
            timing=self.timing,
            initial_members=() if self.with_manager else self.chain_nodes,
        )

    def persist(self, node_id: NodeId, core: Any, ready: Any) -> None:
        if isinstance(ready, ManagerReady) and ready.config is not None:
            self.manager_disk = ready.config

    def output(self, node_id: NodeId, core: Any, item: Any) -> None:
        if isinstance(item, Reconfiguration):
            self.reconfigurations.append(item)
        elif isinstance(item, ReadDone):
            self._note_commits(core)  # a node that just became the tail answers at once
            if item.seq > self.highest_committed:
                self._violation(
                    "CRAQ Reads Only Committed Versions",
                    f"{node_id} answered {item.key}={item.value!r} (version {item.seq}); "
                    f"the highest committed version is {self.highest_committed}",
                )
            self.completions[item.op] = item
        elif isinstance(item, WriteDone):
            self.completions[item.op] = item

    def after_event(self, node_id: NodeId, core: Any) -> None:
        self._check_epoch(node_id, core.epoch, core.members)
        if not isinstance(core, ChainNode):
            return
        self._note_commits(core)
        if core.position is None or not core.synced:
            return
        for other in self._members_like(core):
            if other.applied < core.committed:
                self._violation(
                    "Tail Acknowledges Only What Every Node Holds",
                    f"{node_id} counts updates up to {core.committed} as committed in epoch "
                    f"{core.epoch}, but {other.node_id} holds only up to {other.applied}",
                )

    def _note_commits(self, core: ChainNode) -> None:
        if core.is_tail and core.synced:  # the tail's word is what "committed" means
            self.highest_committed = max(self.highest_committed, core.committed)

    def _members_like(self, core: ChainNode) -> list[ChainNode]:
        """The other live, synced members of ``core``'s epoch."""
        found = []
        for name in self.chain_nodes:
            other = self.world.nodes.get(name)
            if (
                isinstance(other, ChainNode)
                and other is not core
                and other.epoch == core.epoch
                and other.synced
                and other.position is not None
            ):
                found.append(other)
        return found

    def _check_epoch(self, node_id: NodeId, epoch: int, members: Members) -> None:
        if epoch == 0:
            return
        seen = self._epochs.setdefault(epoch, members)
        if seen != members:
            self._violation(
                "One Epoch At A Time",
                f"{node_id} holds epoch {epoch} as chain {[m[0] for m in members]}, "
                f"another node as {[m[0] for m in seen]}",
            )

    def _violation(self, name: str, detail: str) -> None:
        if self.stop_at_violation:
            self.world.violation(name, detail)
        if not any(v.startswith(name + ":") for v in self.violations):  # the first of each
            self.violations.append(f"{name}: {detail}")

    def fields(self, core: Any) -> dict[str, Any]:
        return dict(vars(core.statistics()))

    def message_size(self, message: Any) -> int:
        return len(msgpack.packb(CODEC.encode(message)))


def chain_world(
    seed: int,
    chain_nodes: int = 3,
    *,
    protocol: str = "craq",
    manager: bool = True,
    network: NetworkConfig = RELIABLE,
    **options: Any,
) -> World:
    """A World of one manager (``n0``) and ``chain_nodes`` chain nodes, 10-ms ticks."""
    system = ChainSimSystem(chain_nodes, protocol=protocol, manager=manager, **options)
    return World(system, seed, nodes=chain_nodes + 1, network=network)


# -- clients -----------------------------------------------------------------------------------


@dataclass
class _Request:
    op: str
    kind: str
    call: Any
    node: NodeId
    deadline: int


@dataclass
class _Client:
    name: str
    home: NodeId
    epoch: int = 0
    members: tuple[str, ...] = ()
    request: _Request | None = None
    count: int = 0


class ChainWorkload:
    """Seeded clients of a chain world (see the module docstring).

    ``write_fraction`` of requests are puts (unique values), the rest gets, over ``keys``;
    each client has one request out at a time and starts the next one with probability
    ``busy`` per tick. A request unanswered for ``timeout_ticks`` ends: a write as
    indefinite (it may yet commit), a read as failed.
    """

    def __init__(
        self,
        world: World,
        *,
        clients: int = 3,
        keys: Sequence[str] = ("x", "y"),
        write_fraction: float = 0.5,
        busy: float = 0.5,
        timeout_ticks: int = 100,
        history: History | None = None,
    ) -> None:
        check_client_rates(write_fraction, busy)
        if clients < 1 or not keys:
            raise ValueError("a workload needs at least one client and one key")
        self.world = world
        system = world.system
        assert isinstance(system, ChainSimSystem), "ChainWorkload runs on a chain_world"
        self.system = system
        self.keys = list(keys)
        self.write_fraction = write_fraction
        self.busy = busy
        self.timeout_ticks = timeout_ticks
        self.history = history or History(clock=world.history_clock())
        self.rng = random.Random(derive_seed(world.seed, "chain-clients"))
        chain = system.chain_nodes
        self.clients = [_Client(f"c{i}", chain[i % len(chain)]) for i in range(clients)]

    def run_for(self, ticks: int) -> None:
        """Let ``ticks`` ticks pass with the clients busy."""
        for _ in range(ticks):
            for client in self.clients:
                self._step(client)
            self.world.run_for(1)

    def settle(self, max_ticks: int = 1000) -> None:
        """Stop starting requests and wait until every client's request has ended."""
        for _ in range(max_ticks):
            for client in self.clients:
                if client.request is not None:
                    self._finish_or_expire(client)
            if all(client.request is None for client in self.clients):
                return
            self.world.run_for(1)

    def _step(self, client: _Client) -> None:
        if client.request is not None:
            self._finish_or_expire(client)
        if client.request is None and self.rng.random() < self.busy:
            self._start(client)

    def _refresh(self, client: _Client) -> None:
        source = MANAGER if self.system.with_manager else client.home
        if self.world.alive(source):
            found = self.world.operate(source, lambda core: (core.epoch, core.members))
            if found is not None and found[0] >= client.epoch:
                client.epoch, client.members = found[0], tuple(m[0] for m in found[1])

    def _start(self, client: _Client) -> None:
        if not client.members:
            self._refresh(client)
            if not client.members:
                return
        client.count += 1
        op = f"{client.name}:{client.count}"
        key = self.rng.choice(self.keys)
        writing = self.rng.random() < self.write_fraction
        if writing:
            node = client.members[0]
            value = f"{client.name}-{client.count}"
            call = self.history.invoke(client.name, "put", key, value)
            action: Callable[[Any], Any] = lambda core: core.write(op, key, value)  # noqa: E731
        else:
            node = client.members[-1]
            if self.system.protocol == "craq":
                node = self.rng.choice(client.members)
            call = self.history.invoke(client.name, "get", key)
            action = lambda core: core.read(op, key)  # noqa: E731
        refused = not self.world.alive(node) or isinstance(
            self.world.operate(node, action), Refused
        )
        if refused:  # definite: this request did nothing
            self.history.fail(call)
            self._refresh(client)
            return
        deadline = self.world.now + self.timeout_ticks
        client.request = _Request(op, "put" if writing else "get", call, node, deadline)
        self._finish_or_expire(client)  # a clean read is answered at once

    def _finish_or_expire(self, client: _Client) -> None:
        request = client.request
        assert request is not None
        done = self.system.completions.pop(request.op, None)
        if isinstance(done, ReadDone):
            self.history.ok(request.call, done.value)
        elif isinstance(done, WriteDone):
            self.history.ok(request.call)
        elif self.world.now >= request.deadline:
            if request.kind == "put":
                self.history.info(request.call)  # it may still commit
            else:
                self.history.fail(request.call)
            self._refresh(client)
        else:
            return
        client.request = None


# -- a whole run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainRun:
    """The verdict of one seeded run (`run_chain`)."""

    seed: int
    protocol: str
    verdict: str  # the linearizability checker's: ok | violation | unknown
    operations: int
    acknowledged_writes: int
    acknowledged_writes_lost: int
    converged: bool
    reads_served: dict[str, int]
    reads_asked_tail: dict[str, int]
    reconfigurations: tuple[Reconfiguration, ...]
    violations: tuple[str, ...]
    faults: tuple[str, ...]
    history: History = field(repr=False, compare=False)

    @property
    def linearizable(self) -> bool:
        return self.verdict == "ok"


def converged(world: World) -> bool:
    """Every chain node is alive, a synced member of the manager's current chain, which
    holds them all, and every member has committed everything it applied."""
    manager = world.nodes.get(MANAGER)
    system = world.system
    assert isinstance(system, ChainSimSystem)
    if not isinstance(manager, ConfigManager) or set(manager.chain) != set(system.chain_nodes):
        return False
    applied = set()
    for name in system.chain_nodes:
        node = world.nodes[name]
        if not isinstance(node, ChainNode) or node.epoch != manager.epoch or not node.synced:
            return False
        if node.committed != node.applied:
            return False
        applied.add(node.applied)
    return len(applied) == 1


def run_chain(
    seed: int,
    protocol: str = "craq",
    *,
    chain_nodes: int = 3,
    faults: int = 3,
    network: NetworkConfig = RELIABLE,
    write_fraction: float = 0.5,
    node_factory: Callable[..., ChainNode] = ChainNode,
    phase_ticks: int = 120,
) -> ChainRun:
    """A seeded run: clients busy throughout, ``faults`` faults from `FAULTS` (each kind
    once, in a seeded order, before any repeats), each
    undone after ``phase_ticks`` (a crashed node restarts, an isolated one is let back),
    then quiet; finally the checker's verdict, the acknowledged writes lost (the tail's
    final state against the history) and whether the chain converged."""
    world = chain_world(
        seed, chain_nodes, protocol=protocol, network=network, node_factory=node_factory
    )
    system = world.system
    assert isinstance(system, ChainSimSystem)
    workload = ChainWorkload(world, write_fraction=write_fraction)
    rng = random.Random(derive_seed(seed, "chain-faults"))
    done: list[str] = []
    workload.run_for(phase_ticks)
    schedule: list[str] = []
    while len(schedule) < faults:  # every kind once (in a seeded order) before any twice
        schedule += rng.sample(FAULTS, len(FAULTS))
    for kind in schedule[:faults]:
        manager = world.nodes[MANAGER]
        chain = list(manager.chain) if isinstance(manager, ConfigManager) else []
        place = kind.split()[1]
        index = {"head": 0, "middle": len(chain) // 2, "tail": len(chain) - 1}[place]
        victim = chain[index] if chain else system.chain_nodes[0]
        done.append(f"{kind} ({victim})")
        if kind.startswith("crash"):
            world.crash(victim)
            workload.run_for(phase_ticks)
            world.restart(victim)
        else:
            world.isolate(victim)
            workload.run_for(phase_ticks)
            world.heal()
        workload.run_for(phase_ticks)
    workload.settle()
    ok = world.run_until(lambda: converged(world), max_ticks=3000)
    manager = world.nodes[MANAGER]
    tail = world.nodes[manager.chain[-1]] if isinstance(manager, ConfigManager) else None
    final = {key: tail.value_of(key)[1] for key in workload.keys} if tail else {}
    history = workload.history
    acknowledged = [o for o in history.operations() if o.kind == "put" and o.status == "ok"]
    statuses = world.status()
    return ChainRun(
        seed=seed,
        protocol=protocol,
        verdict=check_linearizable(history, timeout_s=20).verdict,
        operations=len(history),
        acknowledged_writes=len(acknowledged),
        acknowledged_writes_lost=len(lost_acknowledged_writes(history, final)),
        converged=ok,
        reads_served={n: statuses[n].fields.get("reads_served", 0) for n in system.chain_nodes},
        reads_asked_tail={
            n: statuses[n].fields.get("reads_asked_tail", 0) for n in system.chain_nodes
        },
        reconfigurations=tuple(system.reconfigurations),
        violations=tuple(system.violations),
        faults=tuple(done),
        history=history,
    )


@dataclass(frozen=True)
class SplitBrainRun:
    """What `split_brain` shows: each side's chain, the checker's verdict, the violations."""

    seed: int
    manager: bool
    chains: dict[str, tuple[str, ...]]  # each chain node's view of the chain after the cut
    epochs: dict[str, int]
    verdict: str
    violations: tuple[str, ...]
    history: History = field(repr=False, compare=False)

    @property
    def linearizable(self) -> bool:
        return self.verdict == "ok"


def split_brain(
    seed: int = 0,
    *,
    manager: bool = False,
    protocol: str = "cr",
    node_factory: Callable[..., ChainNode] = ChainNode,
) -> SplitBrainRun:
    """Cut a 3-node chain into {n1, n2} and {n3} while clients on both sides work.

    ``manager=False`` (the teaching switch): each side removes the other on its own, two
    chains serve under one epoch number, and the checker finds reads that miss
    acknowledged writes. ``manager=True``: the same cut with the manager on the majority
    side; the lone node's lease runs out and it stops answering -- no violation."""
    world = chain_world(
        seed,
        3,
        protocol=protocol,
        manager=manager,
        stop_at_violation=False,
        node_factory=node_factory,
    )
    system = world.system
    assert isinstance(system, ChainSimSystem)
    workload = ChainWorkload(world, keys=("x",), write_fraction=0.5, timeout_ticks=40)
    workload.run_for(60)
    world.partition(["n0", "n1", "n2"], ["n3"])
    workload.run_for(300)
    workload.settle()
    statuses = world.status()
    chains = {n: tuple(statuses[n].fields.get("chain", ())) for n in system.chain_nodes}
    epochs = {n: int(statuses[n].fields.get("epoch", 0)) for n in system.chain_nodes}
    return SplitBrainRun(
        seed=seed,
        manager=manager,
        chains=chains,
        epochs=epochs,
        verdict=check_linearizable(workload.history, timeout_s=20).verdict,
        violations=tuple(system.violations),
        history=workload.history,
    )
