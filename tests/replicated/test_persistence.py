"""RaftStorage: what a Raft node writes survives a restart, exactly as Ready described it."""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.raft import HardState, LogEntry, PersistedState, Ready, Snapshot
from distlab.replicated.persistence import RaftStorage


def entries(term: int, first: int, last: int) -> list[LogEntry]:
    return [LogEntry(term, i, f"c{i}") for i in range(first, last + 1)]


def reopen(path: Path) -> PersistedState:
    return RaftStorage(path).load()


def test_first_start_is_empty(tmp_path: Path) -> None:
    assert RaftStorage(tmp_path).load() == PersistedState()


def test_hard_state_and_entries_survive(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(hard_state=HardState(2, "n1"), log_from=1, entries=entries(2, 1, 3)))
    storage.save(Ready(hard_state=HardState(3, None)))
    state = reopen(tmp_path)
    assert state.hard_state == HardState(3, None)
    assert list(state.entries) == entries(2, 1, 3)


def test_conflicting_suffix_is_replaced(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(log_from=1, entries=entries(1, 1, 5)))
    # §5.3: a new leader overwrites entries 3.. with its own
    storage.save(Ready(log_from=3, entries=entries(2, 3, 4)))
    assert list(reopen(tmp_path).entries) == entries(1, 1, 2) + entries(2, 3, 4)


def test_truncation_without_replacement(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(log_from=1, entries=entries(1, 1, 5)))
    storage.save(Ready(log_from=2, entries=[]))
    assert list(reopen(tmp_path).entries) == entries(1, 1, 1)


def test_one_fsync_per_ready(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(hard_state=HardState(1, "n0"), log_from=1, entries=entries(1, 1, 50)))
    storage.save(Ready(messages=[]))  # nothing to persist: no write at all
    stats = storage.statistics()
    assert (stats.saves, stats.fsyncs, stats.records_written) == (1, 1, 51)


def test_snapshot_compacts_log(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(hard_state=HardState(4, "n2"), log_from=1, entries=entries(4, 1, 10)))
    snap = Snapshot(7, 4, b"state-at-7")
    storage.save(Ready(snapshot=snap), tail=entries(4, 8, 10))
    state = reopen(tmp_path)
    assert state.snapshot == snap
    assert state.hard_state == HardState(4, "n2")
    assert list(state.entries) == entries(4, 8, 10)
    # the file really shrank to the tail: 1 hard state + 3 entries
    assert len(list(RaftStorage(tmp_path)._log.records())) == 4


def test_snapshot_without_tail_is_refused(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    with pytest.raises(ValueError, match="tail"):
        storage.save(Ready(snapshot=Snapshot(1, 1, b"")))


def test_crash_between_installed_snapshot_and_log_rewrite(tmp_path: Path) -> None:
    """The old log disagrees with the new snapshot at its index: none of it is kept."""
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(log_from=1, entries=entries(1, 1, 8)))
    # Simulate the crash: only the snapshot file made it to disk.
    from distlab.replicated.persistence import _pack
    from distlab.storage import write_snapshot

    write_snapshot(tmp_path / "snapshot", _pack([5, 3, b"leader-state"]))
    state = reopen(tmp_path)
    assert state.snapshot == Snapshot(5, 3, b"leader-state")
    assert state.entries == ()


def test_crash_between_own_snapshot_and_log_rewrite_keeps_tail(tmp_path: Path) -> None:
    storage = RaftStorage(tmp_path)
    storage.load()
    storage.save(Ready(log_from=1, entries=entries(1, 1, 8)))
    from distlab.replicated.persistence import _pack
    from distlab.storage import write_snapshot

    write_snapshot(tmp_path / "snapshot", _pack([5, 1, b"own-state"]))
    assert list(reopen(tmp_path).entries) == entries(1, 6, 8)
