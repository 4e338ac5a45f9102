"""``Cluster.start(4, service="chain", protocol="craq")``: the chain as a named system.

Node ``n0`` is the configuration manager, ``n1 ..`` the chain, head first
(`distlab.chain.node`). Options: ``protocol`` ("craq" | "cr"), ``manager`` (False: the
no-manager teaching switch), ``managers`` (default 1; ``managers=3``: ``n0 .. n2`` run the
manager replicated on Raft, `distlab.chain.replicated_manager`, and ``n3 ..`` the chain).
"""

from __future__ import annotations

from typing import Any

from distlab.chain.core import PROTOCOLS
from distlab.chain.node import ChainProcess, manager_names
from distlab.cluster.system import Chosen

__all__ = ["CHAIN", "ChainSystem"]


class ChainSystem:
    """Chain replication (``protocol="cr"``) or CRAQ (``"craq"``) on real processes."""

    def choose(
        self, protocol: str = "craq", manager: bool = True, managers: int = 1, **options: Any
    ) -> Chosen:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        manager_names({"managers": managers})  # a clear error for a bad count
        choice = {"protocol": protocol, "manager": bool(manager)}
        if managers == 1:
            return Chosen(ChainProcess, {**options, **choice}, choice)
        if not manager:
            raise ValueError("managers > 1 replicates the manager; manager=False has none")
        from distlab.chain.replicated_manager import ChainClusterNode

        choice["managers"] = managers
        return Chosen(ChainClusterNode, {**options, **choice}, choice)


CHAIN = ChainSystem()
