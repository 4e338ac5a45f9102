"""``Cluster.start(3, service="txn")``: distributed transactions as a named system.

Node ``n0`` is the coordinator, ``n1 ..`` the shards (`distlab.txn.node`). Option:
``early_release`` (False; True releases shared locks right after a read: not 2PL).
"""

from __future__ import annotations

from typing import Any

from distlab.cluster.system import Chosen
from distlab.txn.node import TxnProcess

__all__ = ["TXN", "TxnSystem"]


class TxnSystem:
    """Sharded transactions with strict 2PL and two-phase commit on real processes."""

    def choose(self, early_release: bool = False, **options: Any) -> Chosen:
        return Chosen(
            TxnProcess,
            {**options, "early_release": bool(early_release)},
            {"early_release": bool(early_release)},
        )


TXN = TxnSystem()
