"""Distributed transactions in the seeded simulator: the cores, bank sweeps under crashes,
the blocking case, mutants the invariants catch, and clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from distlab.core import Envelope
from distlab.sim import SafetyViolation
from distlab.txn import (
    Coordinator,
    LockTable,
    ShardCore,
    TransactionClosed,
    UnknownTransaction,
    blocked_by_coordinator,
    run_bank,
)
from distlab.txn.messages import Ack, Decision, Prepare, Vote


def test_wait_die_older_waits_younger_dies() -> None:
    table = LockTable()
    assert table.acquire(5, "a", "X") == "granted"
    assert table.acquire(3, "a", "S") == "wait"  # older than the holder
    assert table.acquire(7, "a", "S") == "die"  # younger
    table.release_all(5)
    assert table.acquire(3, "a", "S") == "granted"
    assert table.acquire(4, "a", "S") == "granted"  # shared beside shared
    assert table.acquire(3, "a", "X") == "wait"  # an upgrade waits for 4 (younger)


def test_shard_prepares_durably_and_keeps_locks_across_a_crash() -> None:
    shard = ShardCore("n1")
    assert shard.write(1, "a", [90, 1]) == ("ok", None)
    shard.receive("n0", Prepare(1))
    ready = shard.take_ready()
    assert ready.must_persist and ready.state == {"data": {}, "prepared": {"1": {"a": [90, 1]}}}
    assert ready.messages == [Envelope("n1", "n0", Vote(1, True))]
    restarted = ShardCore("n1", ready.state)
    assert restarted.prepared() == [1]
    assert restarted.read(2, "a") == ("die", None)  # still locked by the prepared 1
    restarted.receive("n0", Decision(1, True))
    assert restarted.data == {"a": [90, 1]} and restarted.take_ready().state is not None


def test_shard_that_lost_a_transaction_votes_no() -> None:
    shard = ShardCore("n1")
    shard.receive("n0", Prepare(4))
    assert shard.take_ready().messages[0].message == Vote(4, False)
    assert shard.read(4, "a", fresh=False) == ("die", None)


def test_coordinator_logs_the_decision_before_sending_it() -> None:
    coordinator = Coordinator()
    txid = coordinator.begin()
    coordinator.commit(txid, ["n1", "n2"])
    coordinator.take_ready()
    coordinator.receive("n1", Vote(txid, True))
    assert not coordinator.has_ready()
    coordinator.receive("n2", Vote(txid, True))
    ready = coordinator.take_ready()
    assert ready.records == [["decide", txid, True, ["n1", "n2"]]]
    assert {e.message for e in ready.messages} == {Decision(txid, True)}
    coordinator.receive("n1", Ack(txid))
    coordinator.receive("n2", Ack(txid))
    assert coordinator.take_ready().records == [["end", txid]]


def test_restarted_coordinator_resumes_and_presumes_abort() -> None:
    log = [["begin", 1], ["begin", 2], ["decide", 2, True, ["n1"]]]
    core = Coordinator.from_log(log)
    assert core.outcome(1) == "aborted" and core.outcome(2) == "committed"
    assert core.take_ready().messages == [Envelope("n0", "n1", Decision(2, True))]
    assert core.begin() == 3


def test_bad_input_gets_clear_errors() -> None:
    coordinator = Coordinator()
    with pytest.raises(UnknownTransaction, match="unknown transaction id 42"):
        coordinator.commit(42, ["n1"])
    txid = coordinator.begin()
    coordinator.commit(txid, [])
    with pytest.raises(TransactionClosed, match="already committed"):
        coordinator.commit(txid, [])
    shard = ShardCore("n1")
    shard.write(1, "a", 1)
    shard.receive("n0", Decision(1, True))
    with pytest.raises(TransactionClosed, match="already"):
        shard.read(1, "a")
    with pytest.raises(ValueError, match="positive integer"):
        shard.read("x", "a")  # type: ignore[arg-type]


def _check_crash_sweep(seeds: range) -> None:
    crashed = {"n0": 0, "n1": 0, "n2": 0}
    for seed in seeds:
        run = run_bank(seed, transfers=25, crashes=True)
        for line in run.crashes:
            if " crash " in line:
                crashed[line.split()[-1]] += 1
        assert run.total_after == run.total_before, seed
        assert run.lost_commits == 0, seed
        assert run.check.verdict == "serializable", (seed, run.check.explain())
        assert run.committed > 0
    assert all(crashed.values()), f"the sweep must crash every node at least once: {crashed}"


def test_bank_under_crashes_keeps_money_and_is_serializable() -> None:
    _check_crash_sweep(range(12))


@pytest.mark.slow
def test_bank_under_crashes_long_sweep() -> None:
    _check_crash_sweep(range(12, 400))


def test_early_release_yields_anomalies_the_checker_names() -> None:
    runs = [run_bank(seed, transfers=30, clients=4, early_release=True) for seed in range(6)]
    bad = [run for run in runs if run.check.verdict == "not serializable"]
    assert len(bad) >= 3
    assert all(run.check.classes == ["G2"] for run in bad)
    assert any(run.total_after != run.total_before for run in bad)  # money appears or vanishes


def test_coordinator_down_after_prepare_blocks_participants_with_locks() -> None:
    run = blocked_by_coordinator(seed=3, down_ticks=150)
    assert all(run.prepared_while_down[s] == [run.txid] for s in run.prepared_while_down)
    assert all(f"X by {run.txid}" in locks.values() for locks in run.locks_while_down.values())
    assert run.other_waits == 150  # the older transaction waited all the while
    assert run.outcome_after_restart == "aborted"  # nothing was logged: presumed abort
    assert run.prepared_after_restart == {s: [] for s in run.prepared_after_restart}
    assert run.total_after == 50 * 100


class VotesBeforeLogging(ShardCore):
    """Mutant: votes yes without making the prepared record durable."""

    def take_ready(self) -> Any:
        ready = super().take_ready()
        if ready.state is not None and any(isinstance(e.message, Vote) for e in ready.messages):
            on_disk = self.durable_state()
            on_disk["prepared"] = {}
            object.__setattr__(ready, "state", on_disk)
        return ready


class ReleasesLocksAtPrepare(ShardCore):
    """Mutant: lets go of its locks once prepared (others may read what may yet abort)."""

    def receive(self, sender: str, message: Any) -> None:
        super().receive(sender, message)
        if isinstance(message, Prepare):
            self.locks.release_all(message.txid)


def test_mutant_releasing_locks_at_prepare_is_caught() -> None:
    with pytest.raises(SafetyViolation, match="Prepared keeps its locks"):
        run_bank(0, transfers=10, shard_class=ReleasesLocksAtPrepare)


def test_mutant_voting_before_logging_loses_money_under_crashes() -> None:
    broken = []
    for seed in range(20):
        run = run_bank(seed, transfers=25, crashes=True, shard_class=VotesBeforeLogging)
        if run.total_after != run.total_before or run.lost_commits:
            broken.append(seed)
    assert broken, "crashes after a yes vote must show the lost prepared record"


def test_ids_are_reserved_in_batches_and_never_reused_after_a_restart() -> None:
    coordinator = Coordinator()
    first = coordinator.begin()
    records = coordinator.take_ready().records
    assert records == [["txids", 1000]]  # one durable write for a thousand ids
    coordinator.begin()
    assert not coordinator.has_ready()
    restarted = Coordinator.from_log(records)
    assert restarted.begin() == 1001  # above everything handed out before the crash
    assert restarted.outcome(first) == "aborted"  # never decided: presumed abort
    with pytest.raises(TransactionClosed, match="aborted"):
        restarted.commit(first, ["n1"])
    with pytest.raises(UnknownTransaction):
        restarted.outcome(5000)
