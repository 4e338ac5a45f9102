"""RaftLog: index arithmetic around a compacted prefix."""

from __future__ import annotations

import pytest

from distlab.raft import LogEntry, RaftLog


def entries(*terms: int, start: int = 1) -> list[LogEntry]:
    return [LogEntry(term, start + i, f"c{start + i}") for i, term in enumerate(terms)]


def test_empty_log_matches_index_zero_term_zero():
    log = RaftLog()
    assert (log.last_index, log.last_term) == (0, 0)
    assert log.term_at(0) == 0
    assert log.term_at(1) is None


def test_append_rejects_a_gap():
    log = RaftLog(entries=entries(1, 1))
    with pytest.raises(ValueError, match="append"):
        log.append([LogEntry(1, 4, "x")])


def test_truncate_then_append_replaces_suffix():
    log = RaftLog(entries=entries(1, 1, 2, 2))
    log.truncate_from(3)
    log.append([LogEntry(3, 3, "new")])
    assert [e.term for e in log.entries_from(1)] == [1, 1, 3]
    assert log.last_index == 3


def test_compact_keeps_suffix_and_remembers_snapshot_term():
    log = RaftLog(entries=entries(1, 1, 2, 3))
    log.compact(2, 1)
    assert (log.snapshot_index, log.snapshot_term, len(log)) == (2, 1, 2)
    assert log.term_at(2) == 1
    assert log.term_at(1) is None
    assert log.entry(3).term == 2
    with pytest.raises(IndexError):
        log.entry(2)
    with pytest.raises(ValueError):
        log.truncate_from(2)


def test_term_search_helpers_used_by_fast_backtracking():
    log = RaftLog(entries=entries(1, 2, 2, 2, 4, 4))
    assert log.first_index_of_term(2, at_or_before=4) == 2
    assert log.last_index_of_term(2) == 4
    assert log.last_index_of_term(3) is None
    log.compact(2, 2)
    assert log.first_index_of_term(2, at_or_before=4) == 3  # cannot look into the snapshot


def test_reset_discards_everything():
    log = RaftLog(entries=entries(1, 1, 1))
    log.reset(10, 5)
    assert (log.last_index, log.last_term, len(log)) == (10, 5, 0)
