"""The deterministic simulator (one thread, virtual clock, seeded faults) for protocol cores.

    from distlab.sim import World, SimSystem     # any core: subclass SimSystem, World(system)
    from distlab.sim import Simulation           # Raft, with the 6.824 lab helpers
    world = Simulation(seed=42, nodes=3)
    leader = world.check_one_leader()
    world.one("x=1", expected_servers=3)
    world.crash(leader); world.partition(["n0"], ["n1", "n2"]); world.heal()

`world` drives any set of cores (`SimSystem` says how one protocol boots, persists,
outputs and checks its safety), `clock` orders events, `network` decides losses and
delays, `failures` are how a run says it went wrong; for Raft, `disk` keeps what a node
persisted, `safety` checks Raft's properties after every event, `simulation` is the
Raft World with the lab helpers, `faults` turns a seed into a randomized schedule,
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
from distlab.sim.failures import SafetyViolation, SimulationFailure
from distlab.sim.faults import ScheduleResult, run_random_schedule
from distlab.sim.kv_sim import KVRaftSimulation, KVServer, run_kv_workload
from distlab.sim.network import RELIABLE, UNRELIABLE, NetworkConfig, SimNetwork
from distlab.sim.safety import SafetyChecker
from distlab.sim.simulation import RaftSimSystem, SimService, Simulation, SimulationStatistics
from distlab.sim.sweep import SweepReport, sweep
from distlab.sim.world import SimNodeStatus, SimSystem, TimelineEvent, World, WorldStatistics

__all__ = [
    "RELIABLE",
    "UNRELIABLE",
    "ElectionTrial",
    "FailoverTrial",
    "KVRaftSimulation",
    "KVServer",
    "NetworkConfig",
    "RaftSimSystem",
    "SafetyChecker",
    "SafetyViolation",
    "ScheduleResult",
    "SimDisk",
    "SimNetwork",
    "SimNodeStatus",
    "SimService",
    "SimSystem",
    "Simulation",
    "SimulationFailure",
    "SimulationStatistics",
    "SweepReport",
    "TimelineEvent",
    "World",
    "WorldStatistics",
    "election_trial",
    "election_trials",
    "failover_trial",
    "failover_trials",
    "run_kv_workload",
    "run_random_schedule",
    "sweep",
]
