"""``Cluster.start(4, service="gfs")``: GFS as a named system of `distlab.cluster`.

What it is: `GFS`, the `distlab.cluster.System` that runs `GFSNode` on every node -- the
master on ``n0``, chunkservers on the rest -- with the options a learner types:
``chunk_size``, ``replicas``, ``lease_ticks``, ... (any field of `GFSConfig`), checked here
so a typo fails in the learner's process, not in four node processes.
Where it fits: registered in pyproject.toml under ``distlab.systems`` as ``gfs``.
"""

from __future__ import annotations

from typing import Any

from distlab.cluster.system import Chosen
from distlab.gfs.messages import config_from_options
from distlab.gfs.node import GFSNode

__all__ = ["GFS", "GFSSystem"]

_OWN = {"master"}


class GFSSystem:
    """One program, two roles; options are `GFSConfig` fields (and ``master``)."""

    def choose(self, **options: Any) -> Chosen:
        from dataclasses import fields

        from distlab.gfs.messages import GFSConfig

        known = {field.name for field in fields(GFSConfig)} | _OWN
        unknown = sorted(set(options) - known - {"service"})
        if unknown:
            raise ValueError(f"unknown GFS option(s) {unknown}; known: {sorted(known)}")
        config = config_from_options(options)  # ValueError for a bad value, here
        choice = {"chunk_size": config.chunk_size, "replicas": config.replicas}
        return Chosen(GFSNode, options, choice)


GFS = GFSSystem()
