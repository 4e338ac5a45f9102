"""distlab.cluster: a cluster of real node processes you can crash, restart and partition.

* :class:`Cluster` -- ``Cluster.start(n, program=...)``: nodes n0..n{n-1} as spawned OS
  processes, each with its own rpc Server, data directory and log file; faults are real
  (SIGKILL, SIGSTOP, the rpc layer's FaultPolicy).
* :class:`NodeProgram`, :class:`NodeContext` -- what a node runs, and what it is given.
* :mod:`distlab.cluster.programs` -- DurableKV, VolatileKV, Echo.
* ``python -m distlab node --config cluster.toml --name n1`` -- one node on any host
  (:mod:`distlab.cluster.config`, docs/MULTI_HOST.md).

Only this package (and the parallelism demos) spawns processes; it never leaves one behind.
"""

from distlab.cluster.launch import Cluster, ClusterError, ClusterStatistics, Event, NodeStatus
from distlab.cluster.program import Address, NodeContext, NodeProgram

__all__ = [
    "Address",
    "Cluster",
    "ClusterError",
    "ClusterStatistics",
    "Event",
    "NodeContext",
    "NodeProgram",
    "NodeStatus",
]
