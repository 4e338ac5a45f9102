"""distlab.chain: chain replication and CRAQ (lecture 9), with a configuration manager.

    from distlab.chain import run_chain, split_brain          # the simulator, judged
    run_chain(seed=1, protocol="craq").linearizable            # crashes of head/middle/tail
    with Cluster.start(4, service="chain", protocol="craq") as cluster:   # n0: the manager
        chain = cluster.client(); chain.put("x", "1"); chain.get("x")

Modules, one idea each: messages (the protocol steps and their codec), core (a chain node:
CR and CRAQ), manager (the configuration manager: epochs, removal, joining with state
transfer), simulated (the World's face: safety checks, clients, seeded fault runs, the
no-manager split brain), node (the same cores in real processes, and the client), system
(``service="chain"``), replicated_manager (``managers=3``: the manager replicated on Raft
across ``n0..n2``, so it survives the loss of its leader), experiments (crashes on real
clusters, read scaling).
"""

from typing import Any

from distlab.chain.core import (
    PROTOCOLS,
    ChainNode,
    ChainStatistics,
    ChainTiming,
    ReadDone,
    Refused,
    WriteDone,
)
from distlab.chain.manager import ConfigManager, ManagerReady, Reconfiguration
from distlab.chain.messages import (
    CODEC,
    Ack,
    Behind,
    Heartbeat,
    NewConfig,
    StateTransfer,
    Update,
    VersionQuery,
    VersionReply,
)
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
from distlab.core import lazy_attribute

# These names load on first use, not with the package: a node process may load the node
# program by its file path, and importing it back from here would be circular
# (`distlab.core.faces` says more).
_LAZY = {
    "distlab.chain.node": ("ChainClient", "ChainProcess", "ChainRefused", "ChainTimeout"),
    "distlab.chain.system": ("CHAIN", "ChainSystem"),
    "distlab.chain.experiments": (
        "ClusterRun",
        "Throughput",
        "chain_converged",
        "crash_every_position",
        "measure_throughput",
        "run_throughput_grid",
        "kill_the_manager_leader",
        "manager_status",
    ),
    "distlab.chain.replicated_manager": ("ChainClusterNode", "ConfigState", "ManagerPeer"),
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)


__all__ = [
    "CHAIN",
    "CODEC",
    "FAULTS",
    "PROTOCOLS",
    "Ack",
    "Behind",
    "ChainClient",
    "ChainClusterNode",
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
    "ConfigState",
    "Heartbeat",
    "ManagerPeer",
    "ManagerReady",
    "NewConfig",
    "ReadDone",
    "Reconfiguration",
    "Refused",
    "SplitBrainRun",
    "StateTransfer",
    "Throughput",
    "Update",
    "VersionQuery",
    "VersionReply",
    "WriteDone",
    "chain_converged",
    "chain_world",
    "converged",
    "crash_every_position",
    "kill_the_manager_leader",
    "manager_status",
    "measure_throughput",
    "run_chain",
    "run_throughput_grid",
    "split_brain",
]
