"""``Cluster.start(7, service="aurora")``: Aurora as a named system.

Node ``n0`` is the writer, ``n1 .. n6`` storage nodes in zones a, b, c
(`distlab.aurora.node`). Options: ``write_quorum`` (4), ``read_quorum`` (3), ``shipping``
("log" | "pages"), ``quorum_reads`` (False), ``gossip`` (True).
"""

from __future__ import annotations

from typing import Any

from distlab.aurora.core import SHIPPING, check_quorums
from distlab.aurora.node import AuroraProcess
from distlab.cluster.system import Chosen

__all__ = ["AURORA", "AuroraSystem"]


class AuroraSystem:
    """Aurora's quorum storage (log shipping) or the mirrored baseline (page shipping)."""

    def choose(
        self,
        write_quorum: int = 4,
        read_quorum: int = 3,
        shipping: str = "log",
        **options: Any,
    ) -> Chosen:
        check_quorums(6, write_quorum, read_quorum)
        if shipping not in SHIPPING:
            raise ValueError(f"shipping must be one of {SHIPPING}, got {shipping!r}")
        chosen = {"write_quorum": write_quorum, "read_quorum": read_quorum, "shipping": shipping}
        return Chosen(AuroraProcess, {**options, **chosen}, chosen)


AURORA = AuroraSystem()
