"""Each assignment's harness passes correct code and catches the mistake each check names.

The threaded and socket checks (assignments 1 and 2) are run one at a time here,
so that a broken implementation costs only the check that should catch it.
"""

from __future__ import annotations

import contextlib
import re

import pytest

from distlab.assignments import bank, kv_raft, kv_rpc, mapreduce_worker
from distlab.assignments.primary_backup import FTReplica, check_primary_backup
from distlab.assignments.raft_election import ElectionRaft, check_election
from distlab.assignments.raft_log import SEEDS, ReplicationRaft, check_replication
from distlab.sim import KVServer, scenarios
from tests.assignments import implementations as impl

# ----------------------------------------------------------------------------- assignment 1


def test_correct_bank_passes_every_check():
    verdict = bank.check_bank(impl.Bank)
    assert verdict.passed, verdict.text()
    assert verdict.text().endswith("5/5 checks passed")


def test_racy_bank_loses_money():
    with pytest.raises(AssertionError, match="the total became"):
        bank._conserved(impl.RacyBank)


def test_opposite_lock_order_is_reported_as_potential_deadlock():
    with pytest.raises(AssertionError, match="PotentialDeadlock: a thread holding 'account"):
        bank._no_deadlock(impl.OppositeOrderBank)


def test_the_lock_order_claim_fails_only_for_its_own_reason():
    # A bank without locks loses money, but it cannot deadlock: the lock-order claim holds
    # (the conservation checks report the race), instead of failing with "total became ...".
    verdict = bank.check_bank(impl.RacyBank)
    assert "lock-order checking: no potential deadlock" not in verdict.failed, verdict.text()
    assert "4 threads x 12 rounds: the total stays 500" in verdict.failed


def test_a_total_that_locks_in_the_other_order_is_not_blamed_on_transfers():
    class ReverseTotalBank(impl.Bank):
        def total(self):
            with contextlib.ExitStack() as held:
                for lock in reversed(self.locks):
                    held.enter_context(lock)
                return sum(self.balances[i] for i in range(len(self.balances)))

    with pytest.raises(AssertionError) as caught:
        bank._no_deadlock(ReverseTotalBank)
    reason = str(caught.value)
    assert re.search(r"holding 'account \d' asked for 'account \d'", reason), reason
    assert "transfer() and total() alike" in reason and "different transfers" not in reason


def test_unlocked_total_sees_money_in_flight():
    with pytest.raises(AssertionError, match=r"total\(\) returned"):
        bank._consistent_total(impl.UnlockedTotalBank)


def test_one_lock_for_the_whole_bank_is_too_coarse():
    bank._disjoint_in_parallel(impl.Bank)
    with pytest.raises(AssertionError, match="one lock per account"):
        bank._disjoint_in_parallel(impl.GlobalLockBank)


def test_overdraft_and_wrong_sequential_results_are_caught():
    class Overdraws(impl.Bank):
        def _move(self, source, target, amount):
            self.balances[source] = self.balances[source] - amount
            self.balances[target] = self.balances[target] + amount
            return True

    with pytest.raises(AssertionError, match="empty account succeeded"):
        bank._sequential(Overdraws)


# ----------------------------------------------------------------------------- assignment 2


def test_correct_kv_server_passes_every_check():
    verdict = kv_rpc.check_kv_server(impl.KVServer)
    assert verdict.passed, verdict.text()


def test_at_least_once_server_applies_retries_twice():
    with pytest.raises(AssertionError, match=r"applied [0-9] times"):
        kv_rpc._one_clerk(impl.NoDedupServer, seed=2, drop_reply=0.4)


def test_a_retry_must_get_the_first_answer():
    with pytest.raises(AssertionError, match="a retry must get the first attempt's answer"):
        kv_rpc._one_clerk(impl.WrongAnswerOnRetryServer, seed=2, drop_reply=0.4)


def test_late_duplicates_of_older_requests_are_caught():
    with pytest.raises(AssertionError, match=r"applied [0-9] times"):
        kv_rpc._one_clerk(
            impl.ExactSeqOnlyServer,
            seed=3,
            drop_request=0.2,
            drop_reply=0.3,
            duplicate=0.4,
            reorder=0.3,
        )


def test_unbounded_duplicate_memory_is_caught():
    with pytest.raises(AssertionError, match="remembers 120 replies"):
        kv_rpc._memory(impl.RemembersEverythingServer)


# ----------------------------------------------------------------------------- assignment 3


def test_correct_worker_passes_every_check():
    verdict = mapreduce_worker.check_worker(impl.worker)
    assert verdict.passed, verdict.text()


def test_untouched_worker_stub_fails_every_check():
    def stub(call, worker_id, app, work_dir):
        raise NotImplementedError("write the worker loop")

    verdict = mapreduce_worker.check_worker(stub)
    assert not any(result.passed for result in verdict.results)
    assert "NotImplementedError: write the worker loop" in verdict.results[0].detail


def test_writing_files_line_by_line_leaves_partial_files_after_a_crash():
    with pytest.raises(AssertionError, match="a crash mid-task left mr-"):
        mapreduce_worker._no_partial_files(impl.streaming_worker)


def test_a_worker_that_does_not_report_user_errors_is_caught():
    with pytest.raises(AssertionError, match="a worker raised ValueError"):
        mapreduce_worker._reported_failure(impl.unreported_errors_worker)


def test_a_worker_that_writes_wrong_output_is_caught():
    with pytest.raises(AssertionError, match="keys differ from the sequential run"):
        mapreduce_worker._one_worker(impl.unsorted_values_worker)


# ----------------------------------------------------------------------------- assignment 4


def test_library_election_passes_part_1():
    verdict = check_election(impl.LibraryElection)
    assert verdict.passed, verdict.text()


def test_untouched_election_skeleton_fails_every_check():
    verdict = check_election(ElectionRaft)
    assert not any(result.passed for result in verdict.results)
    assert all("NotImplementedError" in result.detail for result in verdict.results)


@pytest.mark.parametrize(
    ("node_cls", "caught_by"),
    [
        (impl.ForgetsToPersistVote, "a vote survives a restart"),
        (impl.VotesForEveryone, "votes only for candidates with up-to-date logs"),
        (impl.VotesForEveryone, "re-election after the leader crashes"),
        (impl.CountsRefusals, "7 servers, 3 cut off at a time, 10 times"),
    ],
    ids=["no-persist", "votes-for-everyone", "two-votes-per-term", "counts-refusals"],
)
def test_broken_elections_are_caught(node_cls, caught_by):
    verdict = check_election(node_cls)
    assert caught_by in verdict.failed, verdict.text()


def test_a_failed_simulated_run_says_which_notebook_call_replays_it():
    verdict = check_election(impl.VotesForEveryone)
    detail = next(
        r.detail
        for r in verdict.results
        if r.name == "initial election: one leader, terms stay put"
    )
    assert "pytest" not in detail  # a notebook has no pytest command line
    match = re.match(
        r"replay here: scenarios\.initial_election\((\d+), VotesForEveryone\)\. ", detail
    )
    assert match, detail
    assert "SafetyViolation: Election Safety violated" in detail
    # The call it names does replay the failure.
    with pytest.raises(AssertionError, match="Election Safety"):
        scenarios.initial_election(int(match.group(1)), impl.VotesForEveryone)


# ----------------------------------------------------------------------------- assignment 5


def test_library_replication_passes_part_2():
    verdict = check_replication(impl.LibraryReplication)
    assert verdict.passed, verdict.text()


def test_untouched_replication_skeleton_fails_every_check():
    verdict = check_replication(ReplicationRaft)
    assert verdict.failed == [result.name for result in verdict.results]


@pytest.mark.parametrize(
    ("node_cls", "scenario"),
    [
        (impl.ForgetsToPersistLog, scenarios.whole_cluster_restarts),
        (impl.CommitsOldTerms, scenarios.figure8_paper),
        (impl.AcceptsWithoutConsistencyCheck, scenarios.stale_leader_entries_replaced),
    ],
    ids=["no-log-persist", "commits-old-terms", "no-consistency-check"],
)
def test_broken_replication_is_caught(node_cls, scenario):
    # Only the scenario that targets the mistake (the full verdict runs 13 of them).
    scenario(1, impl.LibraryReplication)
    with pytest.raises(AssertionError) as caught:  # SimulationFailure is an AssertionError
        for seed in SEEDS:
            scenario(seed, node_cls)
    assert "seed=" in str(caught.value) or str(caught.value), "a failure must say why"


# ----------------------------------------------------------------------------- assignment 6


def test_correct_kv_on_raft_passes_every_check():
    verdict = kv_raft.check_kv_raft(impl.KVOnRaft)
    assert verdict.passed, verdict.text()


def test_untouched_kv_service_fails_every_check():
    verdict = kv_raft.check_kv_raft(KVServer)
    assert not any(result.passed for result in verdict.results)
    assert "NotImplementedError" in verdict.results[0].detail


def test_a_stale_local_read_is_caught_by_the_scripted_cut_off_leader() -> None:
    # Seeded workloads catch it only on an unlucky schedule (seed 3 of the partitions-only
    # run once, none since leaders append a no-op and the workload's seeds changed); the
    # scripted scenario asks the cut-off leader on purpose, so it is caught every time.
    with pytest.raises(AssertionError, match="not linearizable: a read sent to the old leader"):
        kv_raft._cut_off_leader_read(impl.LocalReadsKV)
    kv_raft._cut_off_leader_read(impl.KVOnRaft)  # the correct service passes it


@pytest.mark.parametrize(
    ("server_cls", "nemesis"),
    [
        (impl.NoDuplicateTableKV, {"fault_every_ticks": 40, "crashes": True}),
        (impl.TrustsTheIndexKV, {"fault_every_ticks": 40, "partitions": True}),
    ],
    ids=["no-duplicate-table", "trusts-the-index"],
)
def test_broken_kv_services_are_not_linearizable(server_cls, nemesis):
    run = kv_raft._seeded(server_cls, min_completed=1, **nemesis)
    with pytest.raises(AssertionError, match=r"not linearizable|applied twice|missing") as caught:
        run()
    # ... and the failure names the call that replays the run in the notebook.
    options = ", ".join(f"{name}={value!r}" for name, value in nemesis.items())
    replay = rf"replay here: run_kv_workload\({server_cls.__name__}, \d+, {options}\)\. "
    assert re.match(replay, str(caught.value)), str(caught.value)


# ----------------------------------------------------------------------------- assignment 7


def test_library_replica_passes_the_primary_backup_checks():
    verdict = check_primary_backup(impl.LibraryReplica)
    assert verdict.passed, verdict.text()
    assert verdict.text().endswith("7/7 checks passed")


def test_untouched_primary_backup_skeleton_fails_every_check():
    verdict = check_primary_backup(FTReplica)
    assert not any(result.passed for result in verdict.results)
    assert all("NotImplementedError" in result.detail for result in verdict.results)


@pytest.mark.parametrize(
    ("replica_cls", "caught_by"),
    [
        (impl.RepliesAtOnce, "holds a reply until the backup acknowledges it"),
        (impl.RepliesAtOnce, "a crash after a cut channel loses no acknowledged write"),
        (impl.ReleasesEverythingHeld, "releases in order only what is acknowledged"),
        (impl.ReleasesEverythingHeld, "seeded sweep of crashes and cuts: linearizable"),
        (impl.GoesLiveWithoutAsking, "asks the arbiter before going live"),
        (impl.GoesLiveWithoutAsking, "a cut channel leaves one live replica"),
        (impl.IgnoresTheRefusal, "the loser of the test-and-set stops"),
        (impl.IgnoresTheRefusal, "a cut channel leaves one live replica"),
    ],
    ids=[
        "no-output-rule",
        "no-output-rule-loses-a-write",
        "releases-all",
        "releases-all-in-the-sweep",
        "no-test-and-set",
        "no-test-and-set-split-brain",
        "ignores-refusal",
        "ignores-refusal-split-brain",
    ],
)
def test_broken_primary_backup_replicas_are_caught(replica_cls, caught_by):
    verdict = check_primary_backup(replica_cls)
    assert caught_by in verdict.failed, verdict.text()
