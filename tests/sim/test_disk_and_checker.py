"""SimDisk keeps exactly what Ready said to persist; SafetyChecker flags each violation."""

from __future__ import annotations

import pytest

from distlab.raft import HardState, LogEntry, RaftNode, Ready, Role, Snapshot
from distlab.sim import SafetyChecker, SafetyViolation, SimDisk


def entry(term: int, index: int) -> LogEntry:
    return LogEntry(term, index, f"c{index}")


def test_disk_replaces_the_suffix_from_log_from():
    disk = SimDisk()
    disk.save(Ready(hard_state=HardState(1, "n1"), log_from=1, entries=[entry(1, 1), entry(1, 2)]))
    disk.save(Ready(log_from=2, entries=[entry(2, 2), entry(2, 3)]))
    assert [(e.term, e.index) for e in disk.entries] == [(1, 1), (2, 2), (2, 3)]
    assert disk.load().hard_state == HardState(1, "n1")


def test_disk_snapshot_drops_covered_entries_and_log_from_can_clear_the_rest():
    disk = SimDisk()
    disk.save(Ready(log_from=1, entries=[entry(1, i) for i in range(1, 6)]))
    disk.save(Ready(snapshot=Snapshot(3, 1, b"s")))
    assert [e.index for e in disk.entries] == [4, 5]
    disk.save(Ready(snapshot=Snapshot(9, 2, b"t"), log_from=10, entries=[]))
    assert disk.entries == [] and disk.load().snapshot == Snapshot(9, 2, b"t")


def fake_leader(node_id: str, term: int, terms: list[int], commit: int = 0) -> RaftNode:
    import random

    from distlab.raft import PersistedState

    node = RaftNode(
        node_id,
        [p for p in ("n1", "n2", "n3") if p != node_id],
        rng=random.Random(0),
        persisted=PersistedState(
            HardState(term), None, tuple(entry(t, i + 1) for i, t in enumerate(terms))
        ),
    )
    node.role = Role.LEADER
    node.commit_index = commit
    return node


def test_checker_flags_two_leaders_in_one_term():
    checker = SafetyChecker()
    checker.after_event(fake_leader("n1", 3, []))
    with pytest.raises(SafetyViolation, match="Election Safety"):
        checker.after_event(fake_leader("n2", 3, []))


def test_checker_flags_a_leader_missing_a_committed_entry():
    checker = SafetyChecker()
    checker.after_event(fake_leader("n1", 2, [1, 2], commit=2))
    checker.after_event(fake_leader("n3", 3, [1, 2, 3]))  # holds both: fine
    with pytest.raises(SafetyViolation, match="Leader Completeness"):
        checker.after_event(fake_leader("n2", 4, [1, 1, 1]))


def test_checker_flags_logs_that_disagree_at_the_same_index_and_term():
    checker = SafetyChecker()
    checker.on_entries("n1", [LogEntry(1, 1, "a"), LogEntry(2, 2, "b")], prev_term=0)
    checker.on_entries("n2", [LogEntry(2, 2, "b")], prev_term=1)
    with pytest.raises(SafetyViolation, match="Log Matching"):
        checker.on_entries("n3", [LogEntry(2, 2, "other")], prev_term=1)
    with pytest.raises(SafetyViolation, match="Log Matching"):
        checker.on_entries("n3", [LogEntry(2, 2, "b")], prev_term=0)


def test_checker_flags_different_commands_applied_at_one_index():
    checker = SafetyChecker(lambda: " [seed=42]")
    checker.on_applied("n1", 1, "a", digest=11)
    checker.on_applied("n2", 1, "a", digest=11)
    with pytest.raises(SafetyViolation, match=r"State Machine Safety.*\[seed=42\]"):
        checker.on_applied("n3", 1, "b", digest=12)
    with pytest.raises(SafetyViolation, match="State Machine Safety"):
        checker.on_snapshot_applied("n3", 1, digest=99)
