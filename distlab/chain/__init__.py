"""distlab.chain: chain replication and CRAQ (lecture 9), with a configuration manager.

    from distlab.chain import run_chain, split_brain          # the simulator, judged
    run_chain(seed=1, protocol="craq").linearizable            # crashes of head/middle/tail
    with Cluster.start(4, service="chain", protocol="craq") as cluster:   # n0: the manager
        chain = cluster.client(); chain.put("x", "1"); chain.get("x")

Modules, one idea each: messages (the protocol steps and their codec), core (a chain node:
CR and CRAQ), manager (the configuration manager: epochs, removal, joining with state
transfer), simulated (the World's face: safety checks, clients, seeded fault runs, the
no-manager split brain), node (the same cores in real processes, and the client), system
(``service="chain"``), experiments (crashes on real clusters, read scaling).
"""

from distlab.chain.core import (
    PROTOCOLS,
    ChainNode,
    ChainStatistics,
    ChainTiming,
    ReadDone,
    Refused,
    WriteDone,
)
from distlab.chain.experiments import (
    ClusterRun,
    Throughput,
    chain_converged,
    crash_every_position,
    measure_throughput,
    run_throughput_grid,
)
from distlab.chain.manager import ConfigManager, ManagerReady, Reconfiguration
from distlab.chain.messages import CODEC
from distlab.chain.node import ChainClient, ChainProcess, ChainRefused, ChainTimeout
from distlab.chain.simulated import (
    FAULTS,
    ChainRun,
    ChainSimSystem,
    ChainWorkload,
    SplitBrainRun,
    chain_world,
    converged,
    run_chain,
    split_brain,
)
from distlab.chain.system import CHAIN, ChainSystem

__all__ = [
    "CHAIN",
    "CODEC",
    "FAULTS",
    "PROTOCOLS",
    "ChainClient",
    "ChainNode",
    "ChainProcess",
    "ChainRefused",
    "ChainRun",
    "ChainSimSystem",
    "ChainStatistics",
    "ChainSystem",
    "ChainTimeout",
    "ChainTiming",
    "ChainWorkload",
    "ClusterRun",
    "ConfigManager",
    "ManagerReady",
    "ReadDone",
    "Reconfiguration",
    "Refused",
    "SplitBrainRun",
    "Throughput",
    "WriteDone",
    "chain_converged",
    "chain_world",
    "converged",
    "crash_every_position",
    "measure_throughput",
    "run_chain",
    "run_throughput_grid",
    "split_brain",
]
