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

import importlib
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

# The node program's module is not imported here: a cluster may load it in a node process by
# its file path (when the kernel cannot import distlab by name), and a package face that
# imported it back would be a circular import. These names load on first use (PEP 562).
_LAZY = {
    "ChainClient": "distlab.chain.node",
    "ChainProcess": "distlab.chain.node",
    "ChainRefused": "distlab.chain.node",
    "ChainTimeout": "distlab.chain.node",
    "CHAIN": "distlab.chain.system",
    "ChainSystem": "distlab.chain.system",
    "ClusterRun": "distlab.chain.experiments",
    "Throughput": "distlab.chain.experiments",
    "chain_converged": "distlab.chain.experiments",
    "crash_every_position": "distlab.chain.experiments",
    "measure_throughput": "distlab.chain.experiments",
    "run_throughput_grid": "distlab.chain.experiments",
    "kill_the_manager_leader": "distlab.chain.experiments",
    "manager_status": "distlab.chain.experiments",
    "ChainClusterNode": "distlab.chain.replicated_manager",
    "ConfigState": "distlab.chain.replicated_manager",
    "ManagerPeer": "distlab.chain.replicated_manager",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'distlab.chain' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
