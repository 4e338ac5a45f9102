"""Primary-backup replication (lecture 4, VMware FT): deterministic replay, the output rule,
and test-and-set against split brain.

    from distlab.primary_backup import pb_world, SimClient, split_brain, lost_output, divergence

Modules, in reading order: ``machine`` (a tiny deterministic machine and the log of its
non-deterministic inputs), ``messages`` (the logging channel's and the arbiter's messages),
``replica`` (the pure core: log shipping or state transfer, the output rule, failover,
rejoining), ``arbiter`` (the shared disk's test-and-set), ``simulated`` (the seeded
simulator with the rules as named invariants, clients, sweeps and the three experiments),
``node`` (real processes and their client), ``system`` (``service="primary_backup"``).

The last two are not imported here (as in `distlab.kv`): a node process loads ``node`` by
itself, and ``Cluster.start(3, service="primary_backup")`` finds ``system`` by name.
"""

from distlab.primary_backup.arbiter import (
    Arbiter,
    ArbiterState,
    CorruptArbiterState,
    decode_state,
    encode_state,
)
from distlab.primary_backup.machine import (
    LogEntry,
    Machine,
    MachineError,
    StateDiff,
    compile_request,
)
from distlab.primary_backup.messages import CODEC, Reply
from distlab.primary_backup.replica import (
    BACKUP,
    LIVE,
    PRIMARY,
    STOPPED,
    Replica,
    ReplicaConfig,
    ReplicaStatistics,
    Rules,
)
from distlab.primary_backup.simulated import (
    ARBITER,
    REPLICAS,
    ChannelCost,
    DivergenceResult,
    ExperimentResult,
    PrimaryBackupSim,
    RunResult,
    SimClient,
    Violation,
    channel_cost,
    divergence,
    lost_output,
    pb_world,
    redundant,
    run_schedule,
    split_brain,
    sweep,
)

__all__ = [
    "ARBITER",
    "BACKUP",
    "CODEC",
    "LIVE",
    "PRIMARY",
    "REPLICAS",
    "STOPPED",
    "Arbiter",
    "ArbiterState",
    "ChannelCost",
    "CorruptArbiterState",
    "DivergenceResult",
    "ExperimentResult",
    "LogEntry",
    "Machine",
    "MachineError",
    "PrimaryBackupSim",
    "Replica",
    "ReplicaConfig",
    "ReplicaStatistics",
    "Reply",
    "Rules",
    "RunResult",
    "SimClient",
    "StateDiff",
    "Violation",
    "channel_cost",
    "compile_request",
    "decode_state",
    "divergence",
    "encode_state",
    "lost_output",
    "pb_world",
    "redundant",
    "run_schedule",
    "split_brain",
    "sweep",
]
