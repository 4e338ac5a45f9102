"""Frangipani as a named system: ``Cluster.start(5, service="frangipani")``.

`FRANGIPANI` is registered under ``"frangipani"`` (pyproject.toml's ``distlab.systems``):
every node runs a `FrangipaniNode` (the first ``servers`` names a Raft group holding the
shared disk and the lock server, the others workstations); ``cluster.client()`` is a
`FrangipaniClient`. It never starts anything itself; the cluster does.
"""

from __future__ import annotations

from typing import Any

from distlab.cluster.system import Chosen
from distlab.frangipani.node import FrangipaniNode

__all__ = ["FRANGIPANI", "FrangipaniSystem"]


class FrangipaniSystem:
    def choose(self, **options: Any) -> Chosen:
        return Chosen(FrangipaniNode, options, {})


FRANGIPANI = FrangipaniSystem()
