"""Randomized fault schedules: a seed becomes a run full of crashes, partitions and losses.

What it is: `run_random_schedule(seed)` drives a `Simulation` for a number of
ticks while a seeded script crashes and restarts nodes, partitions (symmetric
and one-way), heals, flips the network between reliable and unreliable, and
proposes commands. The faults are named in the one vocabulary,
`distlab.core.FaultKind` (`SCHEDULE_FAULTS`); the unreliable network is the
model's per-message faults (drop, delay, duplicate) switched on and off together.
Safety is checked after every event by the simulation; at the end the network
is healed, every node restarted, and one more command must commit on all of
them (liveness once the faults stop).
What it must never do: use any randomness not derived from ``seed``, or change
the order or number of its draws: they define what each seed means (a seed
printed by a failing sweep must replay the same run), which is also why the
script's RNG keeps its historical seed string instead of `derive_seed`.
Where it fits: seed sweeps in the tests, and a measure of the simulator's speed
(schedules per second: ``benchmarks/sim_bench.py``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from distlab.core import FaultKind
from distlab.raft.core import RaftConfig, RaftNode, Role
from distlab.raft.ready import Proposed
from distlab.sim.network import RELIABLE, UNRELIABLE
from distlab.sim.simulation import Simulation

UNRELIABLE_NETWORK = frozenset({FaultKind.DROP, FaultKind.DELAY, FaultKind.DUPLICATE})
"""The per-message faults `distlab.sim.network.UNRELIABLE` injects, toggled as one."""

SCHEDULE_FAULTS: tuple[FaultKind | frozenset[FaultKind], ...] = (
    FaultKind.CRASH,
    FaultKind.RESTART,
    FaultKind.PARTITION,
    FaultKind.BLOCK,
    FaultKind.HEAL,
    UNRELIABLE_NETWORK,
)
"""What one fault of a schedule is, indexed by the script's draw: the order is part of
what a seed means."""


@dataclass(frozen=True)
class ScheduleResult:
    """What one randomized schedule did (all of it passed the safety checks)."""

    seed: int
    ticks: int
    faults: int
    proposals_accepted: int
    committed_index: int
    leaders: int
    messages_sent: int


def run_random_schedule(
    seed: int,
    *,
    nodes: int = 5,
    ticks: int = 300,
    fault_rate: float = 0.03,
    propose_rate: float = 0.3,
    snapshot_interval: int | None = 10,
    node_cls: type[RaftNode] = RaftNode,
    config: RaftConfig | None = None,
) -> ScheduleResult:
    """Run one seeded schedule of faults and proposals; raise SimulationFailure on any violation."""
    sim = Simulation(
        seed, nodes, config=config, snapshot_interval=snapshot_interval, node_cls=node_cls
    )
    script = random.Random(f"schedule-{seed}")  # historical seed string: see the docstring
    ids = sim.node_ids
    leader = Role.LEADER  # looked up once: an Enum member lookup is slow on Python 3.11
    faults = 0
    accepted = 0
    for _ in range(ticks):
        if script.random() < fault_rate:
            faults += 1
            fault = SCHEDULE_FAULTS[script.randrange(len(SCHEDULE_FAULTS))]
            if fault is FaultKind.CRASH:
                sim.crash(script.choice(ids))
            elif fault is FaultKind.RESTART:
                sim.restart(script.choice(ids))
            elif fault is FaultKind.PARTITION:
                shuffled = list(ids)
                script.shuffle(shuffled)
                cut = script.randint(1, len(ids) - 1)
                sim.partition(shuffled[:cut], shuffled[cut:])
            elif fault is FaultKind.BLOCK:
                src, dst = script.sample(ids, 2)
                sim.block(src, dst)
            elif fault is FaultKind.HEAL:
                sim.heal()
            else:  # UNRELIABLE_NETWORK: on if it was off, off if it was on
                sim.set_network(UNRELIABLE if sim.network.config is RELIABLE else RELIABLE)
        if script.random() < propose_rate:
            leaders = [
                node_id
                for node_id in ids
                if (node := sim.nodes[node_id]) is not None and node.role is leader
            ]
            target = script.choice(leaders) if leaders else script.choice(ids)
            if isinstance(sim.propose(target, f"c{seed}.{sim.now}"), Proposed):
                accepted += 1
        sim.run_for(1)

    # The faults stop: everything comes back, and the cluster must make progress again.
    sim.heal()
    sim.set_network(RELIABLE)
    for node_id in ids:
        if not sim.alive(node_id):
            sim.restart(node_id)
    index = sim.one(f"final.{seed}", nodes)
    stats = sim.statistics()
    return ScheduleResult(
        seed=seed,
        ticks=sim.now,
        faults=faults,
        proposals_accepted=accepted,
        committed_index=index,
        leaders=len(stats.leaders_by_term),
        messages_sent=stats.messages_sent,
    )
