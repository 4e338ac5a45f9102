"""``Cluster.start(3, service="primary_backup", ...)``: the chapter's system, by name.

What it is: `PRIMARY_BACKUP`, the `distlab.cluster.System` registered under
``primary_backup`` in pyproject's ``distlab.systems`` entry points. Its options are the
replica's: ``replication="log" | "state"``, the teaching switches ``output_rule``,
``log_nondeterminism`` and ``test_and_set`` (all True by default), and the timing in ticks
(``failover_timeout_ticks``, ...). Bad options are refused here, before any process starts.
Where it fits: `distlab.cluster` finds it by name and never imports it.
"""

from __future__ import annotations

from typing import Any

from distlab.cluster.system import Chosen
from distlab.primary_backup.node import PrimaryBackupNode, config_from_options

__all__ = ["PRIMARY_BACKUP", "PrimaryBackupSystem"]


class PrimaryBackupSystem:
    """Two replicas and the arbiter, all running `PrimaryBackupNode` (roles by name)."""

    def choose(self, **options: Any) -> Chosen:
        config = config_from_options(options)  # ValueError for a bad option, here
        rules = config.rules
        choice = {
            "replication": config.replication,
            "output_rule": rules.output_rule,
            "log_nondeterminism": rules.log_nondeterminism,
            "test_and_set": rules.test_and_set,
        }
        return Chosen(PrimaryBackupNode, options, choice)


PRIMARY_BACKUP = PrimaryBackupSystem()
