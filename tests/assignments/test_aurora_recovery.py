"""Assignment 11's harness passes the library's writer and catches broken ones."""

from __future__ import annotations

from distlab.assignments.aurora_recovery import AuroraRecovery, check_aurora_recovery
from distlab.aurora import Writer


class CommitsOnTheFastestNode(Writer):
    """The VCL is the highest durable LSN: a commit on one node."""

    def volume_complete_lsn(self):
        return max((self.durable.get(node, 0) for node in self.storage), default=0)


class RecoversFromTheShortestLog(Writer):
    """The recovery point comes from the shortest log in the read quorum."""

    def recovery_point(self, infos):
        node, info = min(infos.items(), key=lambda kv: kv[1].scl)
        return node, info.cpl


class CutsAtTheDurableLsn(Writer):
    """Cuts the log at the longest scl, inside a transaction if it ends there."""

    def recovery_point(self, infos):
        node, info = max(infos.items(), key=lambda kv: kv[1].scl)
        return node, info.scl


def test_the_library_passes_and_the_stub_fails_every_check() -> None:
    assert check_aurora_recovery(Writer).text().endswith("6/6 checks passed")
    assert check_aurora_recovery(AuroraRecovery).text().endswith("0/6 checks passed")


def test_committing_on_one_node_is_caught() -> None:
    verdict = check_aurora_recovery(CommitsOnTheFastestNode)
    assert verdict.failed[:2] == [
        "the VCL is the W-th highest durable LSN",
        "a transaction commits on the W-th node",
    ]
    assert "Commit Only On A Write Quorum" in verdict.text()


def test_recovering_from_the_shortest_log_is_caught() -> None:
    verdict = check_aurora_recovery(RecoversFromTheShortestLog)
    assert "the recovery point is the last transaction end of the longest log" in verdict.failed
    assert "a recovery among laggards keeps every commit" in verdict.failed
    assert "Truncation Never Cuts A Commit" in verdict.text()


def test_cutting_inside_a_transaction_is_caught() -> None:
    verdict = check_aurora_recovery(CutsAtTheDurableLsn)
    assert "a half-written transaction is cut away" in verdict.failed
    assert "Recovery Cuts At A Transaction End" in verdict.text()
