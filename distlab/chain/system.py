"""``Cluster.start(4, service="chain", protocol="craq")``: the chain as a named system.

Node ``n0`` is the configuration manager, ``n1 ..`` the chain, head first
(`distlab.chain.node`). Options: ``protocol`` ("craq" | "cr"), ``manager`` (False: the
no-manager teaching switch).
"""

from __future__ import annotations

from typing import Any

from distlab.chain.core import PROTOCOLS
from distlab.chain.node import ChainProcess
from distlab.cluster.system import Chosen

__all__ = ["CHAIN", "ChainSystem"]


class ChainSystem:
    """Chain replication (``protocol="cr"``) or CRAQ (``"craq"``) on real processes."""

    def choose(self, protocol: str = "craq", manager: bool = True, **options: Any) -> Chosen:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        return Chosen(
            ChainProcess,
            {**options, "protocol": protocol, "manager": bool(manager)},
            {"protocol": protocol, "manager": bool(manager)},
        )


CHAIN = ChainSystem()
