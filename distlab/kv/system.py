"""The KV store as a named system: ``Cluster.start(3, service="kv", consistency=...)``.

What it is: `KV`, the `distlab.cluster.system.System` registered under the name ``"kv"``
(pyproject.toml's ``distlab.systems`` entry points). It turns the one option a learner
chooses -- ``consistency`` -- into the node program that implements it, once:

- ``"strong"`` (the default): `StrongKVNode`, KV commands through Raft's log (线性一致);
- ``"weak"``: `WeakKVNode`, local reads and writes, gossip, last writer wins (最终一致);
- ``"quorum"``: `QuorumKVNode`, N stamped replicas coordinated by the Clerk (``r=``, ``w=``).

Each program's ``client_for`` makes the matching `Clerk` (``cluster.client()``).
What it must never do: start anything itself; the cluster does.
Where it fits: above `distlab.cluster` (which never imports it) and the three node programs.
"""

from __future__ import annotations

from typing import Any

from distlab.cluster.program import NodeProgram
from distlab.cluster.system import Chosen
from distlab.kv.quorum_node import QuorumKVNode
from distlab.kv.strong_node import StrongKVNode
from distlab.kv.weak_node import WeakKVNode

__all__ = ["KV", "PROGRAMS", "KVSystem"]

PROGRAMS: dict[str, type[NodeProgram]] = {
    "strong": StrongKVNode,
    "weak": WeakKVNode,
    "quorum": QuorumKVNode,
}
"""The node program of each consistency mode."""


class KVSystem:
    """The replicated KV store: ``consistency`` picks the program (see the module docstring)."""

    def choose(self, consistency: str = "strong", **options: Any) -> Chosen:
        program = PROGRAMS.get(consistency)
        if program is None:
            raise ValueError(f"consistency must be one of {sorted(PROGRAMS)}, got {consistency!r}")
        return Chosen(program, options, {"consistency": consistency})


KV = KVSystem()
