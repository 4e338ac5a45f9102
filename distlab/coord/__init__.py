"""distlab.coord: a ZooKeeper-like coordination service (协调服务) on distlab's Raft (lecture 8).

    from distlab.cluster import Cluster
    with Cluster.start(3, service="coord") as cluster:
        zk = cluster.client(server="n1")           # kazoo's method names
        zk.create("/lock", ephemeral=True)
        Lock(zk, "/locks/a").acquire()            # the herd-free lock recipe

Modules, in reading order: ``tree`` (znodes and sessions: the replicated state, pure),
``server`` (one server's watches and session clocks, pure), ``node`` (a Raft peer serving
it, real processes), ``client`` (a session on one server, kazoo-shaped), ``recipes``
(counter, locks, leader election, configuration -- the same code on kazoo), ``simulated``
(the same service in the seeded simulator), ``system`` (``service="coord"``).
"""

from __future__ import annotations

from distlab.coord.client import CoordClient
from distlab.coord.experiments import (
    FencingResult,
    HerdResult,
    StaleReadResult,
    WorkloadResult,
    ephemeral_after_expiry,
    fencing,
    herd,
    locks_under_crashes,
    stale_read,
    workload_under_faults,
)
from distlab.coord.recipes import (
    Counter,
    FencedResource,
    HerdLock,
    LeaderElection,
    Lock,
    LockLost,
    NaiveLock,
    read_config,
    retrying,
    write_config,
)
from distlab.coord.server import CoordServer
from distlab.coord.simulated import (
    CoordSimulation,
    ForgetsClientOrder,
    SimClients,
    SimCoordClient,
    coord_world,
)
from distlab.coord.tree import ZnodeTree
from distlab.coord.workload import (
    Recorded,
    counter_race,
    herd_count,
    lock_rounds,
    recorded_workload,
)

__all__ = [
    "CoordClient",
    "CoordServer",
    "CoordSimulation",
    "Counter",
    "FencedResource",
    "FencingResult",
    "ForgetsClientOrder",
    "HerdLock",
    "HerdResult",
    "LeaderElection",
    "Lock",
    "LockLost",
    "NaiveLock",
    "Recorded",
    "SimClients",
    "SimCoordClient",
    "StaleReadResult",
    "WorkloadResult",
    "ZnodeTree",
    "coord_world",
    "counter_race",
    "ephemeral_after_expiry",
    "fencing",
    "herd",
    "herd_count",
    "lock_rounds",
    "locks_under_crashes",
    "read_config",
    "recorded_workload",
    "retrying",
    "stale_read",
    "workload_under_faults",
    "write_config",
]
