"""distlab.cluster: a cluster of real node processes you can crash, restart and partition.

* :class:`Cluster` -- ``Cluster.start(n, program=...)``: nodes n0..n{n-1} as spawned OS
  processes, each with its own rpc Server, data directory and log file; faults are real
  (SIGKILL, SIGSTOP, the rpc layer's FaultPolicy).
* :class:`NodeProgram`, :class:`NodeContext` -- what a node runs, and what it is given.
* :class:`CoreNode` -- a NodeProgram that drives any protocol core of `distlab.core`
  (ticks, peers' messages, persist -> send -> outputs): the real-time twin of `sim.World`;
  :class:`Answers` -- where its client RPCs wait for the outputs that answer them.
* :class:`PeerSender` -- the outgoing queue to one peer (batched, asynchronous, never
  blocking the core's driver on a stalled peer), used by CoreNode and by Raft's RaftPeer.
* :mod:`distlab.cluster.system` -- named systems (``service="kv"``) found through entry
  points; this package imports no system.
* :mod:`distlab.cluster.programs` -- DurableKV, VolatileKV, Echo.
* ``python -m distlab node --config cluster.toml --name n1`` -- one node on any host
  (:mod:`distlab.cluster.config`, docs/MULTI_HOST.md).

It never leaves a process behind.
"""

from distlab.cluster.core_node import Answers, CoreNode
from distlab.cluster.experiments import MirrorClient, measure_outage, read_all, write_keys
from distlab.cluster.launch import Cluster, ClusterError, ClusterStatistics, Event, NodeStatus
from distlab.cluster.peer_sender import PeerSender
from distlab.cluster.program import Address, NodeContext, NodeProgram
from distlab.cluster.programs import DurableKV, Echo, VolatileKV

__all__ = [
    "Address",
    "Answers",
    "Cluster",
    "ClusterError",
    "ClusterStatistics",
    "CoreNode",
    "DurableKV",
    "Echo",
    "Event",
    "MirrorClient",
    "NodeContext",
    "NodeProgram",
    "NodeStatus",
    "PeerSender",
    "VolatileKV",
    "measure_outage",
    "read_all",
    "write_keys",
]
