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
from distlab.coord.recipes import (
    Counter,
    FencedResource,
    LeaderElection,
    Lock,
    NaiveLock,
    read_config,
    write_config,
)
from distlab.coord.server import CoordServer
from distlab.coord.tree import ZnodeTree

__all__ = [
    "CoordClient",
    "CoordServer",
    "Counter",
    "FencedResource",
    "LeaderElection",
    "Lock",
    "NaiveLock",
    "ZnodeTree",
    "read_config",
    "write_config",
]
