"""StrongKVNode: the strongly consistent (强一致) store in a real process -- KVService on Raft.

What it is: a `distlab.replicated.RaftPeer` whose replicated service is
`distlab.kv.strong.KVService` (reads and writes through the log), and whose client is the
KV `Clerk`. ``Cluster.start(3, service="kv", consistency="strong")`` runs one per node.
What it must never do: change Raft's rules or the service's; it only puts them together.
Where it fits: beside `distlab.kv.weak_node` and `distlab.kv.quorum_node`, the other two
ways to run the KV store; `distlab.kv.system` names all three.
"""

from __future__ import annotations

from typing import Any, ClassVar

from distlab.cluster.program import NodeContext
from distlab.kv.clerk import Clerk
from distlab.kv.strong import KVService
from distlab.replicated.raft_peer import RaftPeer

__all__ = ["StrongKVNode"]


class StrongKVNode(RaftPeer):
    """One replica of the linearizable KV store: a Raft peer applying KV commands."""

    consistency: ClassVar[str] = "strong"

    def __init__(self, ctx: NodeContext) -> None:
        ctx.options.setdefault("service", KVService)
        super().__init__(ctx)

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Clerk:
        """A Clerk for the whole cluster (it finds the leader and retries)."""
        return Clerk.for_cluster(cluster, **options)
