"""Small measurements on the simulator, for notebooks: how long does a failover take?

What it is: `failover_trial(seed, ...)` elects a leader, crashes it, and counts
the virtual ticks until a new leader exists, and how many candidacies that took
(more than one means competing candidates, split votes or lost messages).
`failover_trials` repeats it over seeds. This is the simulator's version of the paper's Figure 16.
`election_trial(seed, ...)` starts a fresh cluster (every timer starting together, as
after a leader's crash) and counts the ticks until the first leader, even when the
timeouts are so alike that split votes go on for a long time; `election_trials` repeats it.
What it must never do: use the wall clock; results depend only on the seeds and
the configuration, so a notebook can print them and nbval can check them.
Where it fits: called by the Raft notebook's election-timeout slider.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.raft.core import RaftConfig, Role
from distlab.sim.network import RELIABLE, NetworkConfig
from distlab.sim.simulation import Simulation


@dataclass(frozen=True)
class FailoverTrial:
    """One failover: ticks from the leader's crash to a new leader, and candidacies started."""

    seed: int
    ticks_to_new_leader: int
    elections: int

    @property
    def split(self) -> bool:
        """True if more than one node stood, or one node had to stand more than once."""
        return self.elections > 1


def failover_trial(
    seed: int,
    *,
    nodes: int = 5,
    config: RaftConfig | None = None,
    network: NetworkConfig = RELIABLE,
    max_ticks: int = 10_000,
) -> FailoverTrial:
    """Crash a settled leader and measure the time to the next one."""
    sim = Simulation(seed, nodes, config=config, network=network)
    leader = sim.check_one_leader()
    sim.run_for(sim.election_timeout_ticks)  # let the cluster settle
    before = {n: sim.nodes[n].statistics().elections_started for n in sim.node_ids}
    sim.crash(leader)
    crashed_at = sim.now

    def new_leader() -> bool:
        return any(node is not None and node.role is Role.LEADER for node in sim.nodes.values())

    if not sim.run_until(new_leader, max_ticks):
        sim.fail(f"no new leader within {max_ticks} ticks of the crash")
    elections = sum(
        sim.nodes[n].statistics().elections_started - before[n]
        for n in sim.node_ids
        if sim.nodes[n] is not None
    )
    return FailoverTrial(seed, sim.now - crashed_at, elections)


def failover_trials(
    seeds: range | list[int], *, nodes: int = 5, config: RaftConfig | None = None
) -> list[FailoverTrial]:
    """`failover_trial` for each seed."""
    return [failover_trial(seed, nodes=nodes, config=config) for seed in seeds]


@dataclass(frozen=True)
class ElectionTrial:
    """One election from a cold start: ticks until a leader (None: none within the limit)."""

    seed: int
    ticks_to_leader: int | None
    elections: int

    @property
    def split(self) -> bool:
        """True if the first candidacy did not produce the leader (split vote or lost race)."""
        return self.elections > 1


def election_trial(
    seed: int,
    *,
    nodes: int = 5,
    config: RaftConfig | None = None,
    network: NetworkConfig = RELIABLE,
    max_ticks: int = 2_000,
) -> ElectionTrial:
    """Start ``nodes`` fresh nodes at once and measure the time to the first leader."""
    sim = Simulation(seed, nodes, config=config, network=network)

    def leader() -> bool:
        return any(node is not None and node.role is Role.LEADER for node in sim.nodes.values())

    found = sim.run_until(leader, max_ticks)
    elections = sum(node.statistics().elections_started for node in sim.nodes.values() if node)
    return ElectionTrial(seed, sim.now if found else None, elections)


def election_trials(
    seeds: range | list[int],
    *,
    nodes: int = 5,
    config: RaftConfig | None = None,
    max_ticks: int = 2_000,
) -> list[ElectionTrial]:
    """`election_trial` for each seed."""
    return [election_trial(seed, nodes=nodes, config=config, max_ticks=max_ticks) for seed in seeds]
