"""Assignment 13's harness passes the library's participant and catches broken ones."""

from __future__ import annotations

from typing import Any

from distlab.assignments.two_phase_commit import Participant, check_two_phase_commit
from distlab.txn import ShardCore


class VotesBeforeItIsDurable(ShardCore):
    """Votes yes without marking the prepared record dirty: a crash forgets the promise."""

    def on_prepare(self, txid: int) -> None:
        txn = self.txns.get(txid)
        if txn is None:
            self.vote(txid, False)
            return
        txn.prepared = True
        self.vote(txid, True)


class ForgetsPreparedOnRestart(ShardCore):
    """Comes back from a crash without its prepared transactions."""

    def restore_prepared(self, txid: int, writes: dict[str, Any]) -> None:
        pass


class AcknowledgesOnlyOnce(ShardCore):
    """Acknowledges a decision only for a transaction it still holds."""

    def on_decision(self, txid: int, commit: bool) -> None:
        if txid in self.txns:
            self.finish(txid, "committed" if commit else "aborted")
            self.acknowledge(txid)


class ReleasesEveryLockAtPrepare(ShardCore):
    """Lets others at the keys of a transaction that may still abort."""

    def on_prepare(self, txid: int) -> None:
        super().on_prepare(txid)
        self.locks.release_all(txid)


def test_the_library_passes_and_the_stub_fails_every_check() -> None:
    assert check_two_phase_commit(ShardCore).text().endswith("6/6 checks passed")
    assert check_two_phase_commit(Participant).text().endswith("0/6 checks passed")


def test_voting_before_durable_is_caught() -> None:
    verdict = check_two_phase_commit(VotesBeforeItIsDurable)
    assert "prepare: durable before the yes vote, locks kept" in verdict.failed
    assert "bank transfers through crashes of coordinator and shards" in verdict.failed


def test_forgetting_prepared_transactions_is_caught() -> None:
    verdict = check_two_phase_commit(ForgetsPreparedOnRestart)
    assert "a restarted shard is still prepared and asks" in verdict.failed
    assert "bank transfers through crashes of coordinator and shards" in verdict.failed


def test_a_single_acknowledgement_is_caught() -> None:
    verdict = check_two_phase_commit(AcknowledgesOnlyOnce)
    assert verdict.failed == ["decisions apply, release and are acknowledged"]


def test_releasing_locks_at_prepare_is_caught_by_the_invariant() -> None:
    verdict = check_two_phase_commit(ReleasesEveryLockAtPrepare)
    assert "bank transfers, no crashes" in verdict.failed
    assert "Prepared keeps its locks" in verdict.text()
