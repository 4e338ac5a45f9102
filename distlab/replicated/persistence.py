"""RaftStorage: a Raft node's persistent state (持久化 persistence) on a real disk.

What it is: the real-process twin of the simulator's disk. It keeps Figure 2's persistent
state -- ``current_term``, ``voted_for`` and the log -- in one
:class:`~distlab.storage.DurableLog`, and the latest snapshot (§7) in a checksummed file
written with :func:`~distlab.storage.write_snapshot` (temp file + fsync + rename).
``save(ready)`` writes one `Ready` batch and fsyncs **once** for the whole batch (group
commit); ``load()`` rebuilds a :class:`~distlab.raft.PersistedState` after a restart.

What it must never do: decide anything about Raft, or return state that failed a checksum
(the storage layer refuses it). It never reorders writes: records are replayed in the order
they were appended.

Where it fits: :class:`distlab.replicated.raft_peer.RaftPeer` calls ``save`` before it sends
the messages of the same `Ready` (the persist -> send -> apply contract of
:mod:`distlab.raft.ready`).

Log file layout, one msgpack record per line of history::

    ["hs", term, voted_for]        the hard state changed (the last one wins)
    ["e", term, index, command]    an entry; it replaces any persisted entry at >= index
    ["t", index]                   entries at >= index were deleted (no replacement)

A conflicting suffix (§5.3) is therefore deleted by *appending* records, never by editing
the file in place; the file is rewritten (atomically) only when a snapshot compacts it.
With ``fsync=False`` records are written to disk at most about once a second: faster, but a
crash may forget acknowledged entries and even a vote, which breaks Raft's guarantees. It is
there to measure what fsync costs, not to be used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from distlab.raft import HardState, LogEntry, PersistedState, Ready, Snapshot
from distlab.storage import DurableLog, read_snapshot, write_snapshot

__all__ = ["RaftStorage", "StorageStatistics"]

_UNSYNCED_FLUSH_S = 1.0  # with fsync=False: how stale the file may get


def _pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False)


@dataclass(frozen=True)
class StorageStatistics:
    """What the storage has done since this process opened it."""

    saves: int  # Ready batches that had something to persist
    fsyncs: int  # group commits: at most one per batch
    records_written: int
    snapshots_written: int
    last_index: int  # the last persisted log index


class RaftStorage:
    """A Raft node's term, vote, log and snapshot under ``directory``."""

    def __init__(self, directory: str | Path, *, fsync: bool = True) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._log = DurableLog(self.directory / "raft.log")
        self._snapshot_path = self.directory / "snapshot"
        self._hard_state = HardState()
        self._snapshot_index = 0
        self._last_index = 0
        self._last_flush = time.monotonic()
        self._saves = self._fsyncs = self._records = self._snapshots = 0

    # -- recovery ----------------------------------------------------------------------------
    def load(self) -> PersistedState:
        """Everything on disk as a `PersistedState` (empty on a first start)."""
        snapshot = None
        raw = read_snapshot(self._snapshot_path)
        if raw is not None:
            index, term, data = _unpack(raw)
            snapshot = Snapshot(int(index), int(term), bytes(data))
        hard_state = HardState()
        entries: list[LogEntry] = []
        for record in self._log.records():
            item = _unpack(record)
            kind = item[0]
            if kind == "hs":
                hard_state = HardState(int(item[1]), item[2])
            elif kind == "e":
                _, term, index, command = item
                _cut_from(entries, index)
                entries.append(LogEntry(int(term), int(index), command))
            elif kind == "t":
                _cut_from(entries, item[1])
            else:
                raise ValueError(f"{self._log.path}: unknown record kind {kind!r}")
        if snapshot is not None:
            entries = _after_snapshot(entries, snapshot)
        elif entries and entries[0].index != 1:
            raise ValueError(
                f"{self._log.path}: log starts at index {entries[0].index} but there is no "
                "snapshot covering the entries before it"
            )
        self._hard_state = hard_state
        self._snapshot_index = snapshot.last_included_index if snapshot else 0
        self._last_index = entries[-1].index if entries else self._snapshot_index
        return PersistedState(hard_state, snapshot, tuple(entries))

    # -- writing -----------------------------------------------------------------------------
    def save(self, ready: Ready, tail: list[LogEntry] | None = None) -> None:
        """Persist ``ready``'s hard state, log change and snapshot, then fsync once.

        When ``ready.snapshot`` is set, ``tail`` must be the node's log entries after the
        snapshot at the moment the Ready was taken: the log file is rewritten to hold just
        those (compaction), after the snapshot file is safely on disk.
        """
        if not ready.must_persist:
            return
        self._saves += 1
        if ready.hard_state is not None:
            self._hard_state = ready.hard_state
        if ready.snapshot is not None:
            if tail is None:
                raise ValueError("save() of a Ready with a snapshot needs the log tail after it")
            self._write_snapshot(ready.snapshot, tail)
            return
        records = []
        if ready.hard_state is not None:
            hs = ready.hard_state
            records.append(_pack(["hs", hs.current_term, hs.voted_for]))
        if ready.log_from is not None:
            if ready.entries:
                records.extend(_pack(["e", e.term, e.index, e.command]) for e in ready.entries)
                self._last_index = ready.entries[-1].index
            elif ready.log_from <= self._last_index:
                records.append(_pack(["t", ready.log_from]))
                self._last_index = ready.log_from - 1
        self._log.extend(records)
        self._records += len(records)
        if self.fsync:
            self._log.sync()  # group commit: one fsync for the whole batch
            self._fsyncs += 1
        else:
            self.flush_if_stale()

    def flush_if_stale(self) -> None:
        """With fsync off: write buffered records once they are about a second old."""
        if time.monotonic() - self._last_flush >= _UNSYNCED_FLUSH_S:
            self._log.sync()
            self._last_flush = time.monotonic()

    def _write_snapshot(self, snapshot: Snapshot, tail: list[LogEntry]) -> None:
        # Order matters for a crash in between: the snapshot first (atomically), then the
        # compacted log. Recovery copes with an old log next to a new snapshot.
        write_snapshot(
            self._snapshot_path,
            _pack([snapshot.last_included_index, snapshot.last_included_term, snapshot.data]),
        )
        hs = self._hard_state
        records = [_pack(["hs", hs.current_term, hs.voted_for])]
        records.extend(_pack(["e", e.term, e.index, e.command]) for e in tail)
        self._log.rewrite(records, first_index=0)
        self._snapshot_index = snapshot.last_included_index
        self._last_index = tail[-1].index if tail else snapshot.last_included_index
        self._snapshots += 1
        self._records += len(records)

    def close(self) -> None:
        """Write and fsync anything buffered, then close (a graceful stop)."""
        self._log.close()

    def statistics(self) -> StorageStatistics:
        """Counters since this process opened the storage."""
        return StorageStatistics(
            saves=self._saves,
            fsyncs=self._fsyncs,
            records_written=self._records,
            snapshots_written=self._snapshots,
            last_index=self._last_index,
        )


def _cut_from(entries: list[LogEntry], index: int) -> None:
    """Delete entries at >= ``index`` (entries are contiguous, so this is a slice)."""
    if entries and index <= entries[-1].index:
        del entries[max(index - entries[0].index, 0) :]


def _after_snapshot(entries: list[LogEntry], snapshot: Snapshot) -> list[LogEntry]:
    """The persisted entries that still belong after ``snapshot``.

    A crash between writing an installed snapshot and rewriting the log leaves the old log
    beside the new snapshot. If that log disagrees with the snapshot at its last index, the
    snapshot replaced the whole log (§7), so none of it is kept.
    """
    index, term = snapshot.last_included_index, snapshot.last_included_term
    for entry in entries:
        if entry.index == index and entry.term != term:
            return []
    kept = [e for e in entries if e.index > index]
    if kept and kept[0].index != index + 1:
        return []  # a gap after the snapshot: nothing after it can be trusted to follow on
    return kept
