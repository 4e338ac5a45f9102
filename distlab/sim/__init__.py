"""The deterministic simulator (one thread, virtual clock, seeded faults) for protocol cores.

    from distlab.sim import Simulation
    world = Simulation(seed=42, nodes=3)
    leader = world.check_one_leader()
    world.one("x=1", expected_servers=3)
    world.crash(leader); world.partition(["n0"], ["n1", "n2"]); world.heal()

`clock` orders events, `network` decides losses and delays, `disk` keeps what a
node persisted, `safety` checks Raft's properties after every event,
`simulation` drives the nodes, `faults` turns a seed into a randomized schedule,
`experiments` measures failovers for the notebooks, `sweep` runs many schedules on every
core (also as ``python -m distlab.sim sweep``).
"""

from distlab.sim.disk import SimDisk
from distlab.sim.experiments import (
    ElectionTrial,
    FailoverTrial,
    election_trial,
    election_trials,
    failover_trial,
    failover_trials,
)
from distlab.sim.faults import ScheduleResult, run_random_schedule
from distlab.sim.network import RELIABLE, UNRELIABLE, NetworkConfig, SimNetwork
from distlab.sim.safety import SafetyChecker, SafetyViolation, SimulationFailure
from distlab.sim.simulation import SimService, Simulation, SimulationStatistics, TimelineEvent
from distlab.sim.sweep import SweepReport, sweep

__all__ = [
    "RELIABLE",
    "UNRELIABLE",
    "ElectionTrial",
    "FailoverTrial",
    "NetworkConfig",
    "SafetyChecker",
    "SafetyViolation",
    "ScheduleResult",
    "SimDisk",
    "SimNetwork",
    "SimService",
    "Simulation",
    "SimulationFailure",
    "SimulationStatistics",
    "SweepReport",
    "TimelineEvent",
    "election_trial",
    "election_trials",
    "failover_trial",
    "failover_trials",
    "run_random_schedule",
    "sweep",
]
