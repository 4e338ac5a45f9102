"""The coordination service as a named system: ``Cluster.start(3, service="coord")``.

What it is: `COORD`, the `distlab.cluster.system.System` registered under ``"coord"``
(pyproject.toml's ``distlab.systems`` entry points). Every node runs a `CoordNode` (the znode
tree on Raft); ``cluster.client(server="n1")`` opens a `CoordClient` session on one server.
Options: ``touch_every_ms`` (how often a server forwards heartbeats) and RaftPeer's own.
What it must never do: start anything itself; the cluster does.
"""

from __future__ import annotations

from typing import Any

from distlab.cluster.system import Chosen
from distlab.coord.node import CoordNode

__all__ = ["COORD", "CoordSystem"]


class CoordSystem:
    """ZooKeeper-like coordination on Raft (one program; no modes to choose)."""

    def choose(self, **options: Any) -> Chosen:
        return Chosen(CoordNode, options, {})


COORD = CoordSystem()
