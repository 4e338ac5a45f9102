"""Raft's log with a compacted prefix: entries after a snapshot, addressed by absolute index.

What it is: an in-memory list of `LogEntry` whose first ``snapshot_index`` entries
have been replaced by a snapshot (§7). Index 0 with term 0 is the empty prefix
that every log shares, so "prev_log_index = 0" always matches.
What it must never do: decide anything about Raft (who may append, what is
committed); it only answers questions about indices and terms.
Where it fits: owned by `distlab.raft.core.RaftNode`; the driver persists the
changes the node reports in `Ready`.
"""

from __future__ import annotations

from collections.abc import Iterable

from distlab.raft.messages import LogEntry


class RaftLog:
    """Entries after ``snapshot_index`` up to ``last_index``; the ones before are compacted."""

    def __init__(
        self, snapshot_index: int = 0, snapshot_term: int = 0, entries: Iterable[LogEntry] = ()
    ) -> None:
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
        self._entries: list[LogEntry] = []
        self.append(list(entries))

    # -- questions ---------------------------------------------------------------------------

    @property
    def last_index(self) -> int:
        """The index of the last entry (or of the snapshot when no entry follows it)."""
        return self.snapshot_index + len(self._entries)

    @property
    def last_term(self) -> int:
        """The term of the last entry; §5.4.1 compares logs by (last_term, last_index)."""
        return self._entries[-1].term if self._entries else self.snapshot_term

    def __len__(self) -> int:
        """How many entries are held in memory (after the snapshot)."""
        return len(self._entries)

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index``; None if it is compacted away or not there yet."""
        position = index - self.snapshot_index  # 1 for the first entry after the snapshot
        if position == 0:
            return self.snapshot_term
        if position < 0 or position > len(self._entries):
            return None
        return self._entries[position - 1].term

    def entry(self, index: int) -> LogEntry:
        """The entry at ``index`` (must be held: after the snapshot, at most ``last_index``)."""
        if not self.snapshot_index < index <= self.last_index:
            raise IndexError(
                f"log holds entries {self.snapshot_index + 1}..{self.last_index}, not {index}"
            )
        return self._entries[index - self.snapshot_index - 1]

    def entries_from(self, index: int, max_count: int | None = None) -> list[LogEntry]:
        """Entries from ``index`` on (at most ``max_count``); ``index`` must be held or next."""
        if index <= self.snapshot_index:
            raise IndexError(f"entries before {self.snapshot_index + 1} were compacted")
        start = index - self.snapshot_index - 1
        end = None if max_count is None else start + max_count
        return self._entries[start:end]

    def first_index_of_term(self, term: int, at_or_before: int) -> int:
        """The first held index of the run of ``term`` that contains ``at_or_before``."""
        index = at_or_before
        while index - 1 > self.snapshot_index and self.term_at(index - 1) == term:
            index -= 1
        return index

    def last_index_of_term(self, term: int) -> int | None:
        """The last held index whose entry has ``term``, or None (terms only grow along a log)."""
        for position in range(len(self._entries) - 1, -1, -1):
            entry_term = self._entries[position].term
            if entry_term == term:
                return self.snapshot_index + position + 1
            if entry_term < term:
                return None
        return None

    # -- changes -----------------------------------------------------------------------------

    def append(self, entries: list[LogEntry]) -> None:
        """Add entries at the end; their indices must continue the log without a gap."""
        for entry in entries:
            if entry.index != self.last_index + 1:
                raise ValueError(
                    f"append() of index {entry.index} to a log ending at {self.last_index}"
                )
            self._entries.append(entry)

    def truncate_from(self, index: int) -> None:
        """Delete the entry at ``index`` and all that follow (§5.3: a conflicting suffix)."""
        if index <= self.snapshot_index:
            raise ValueError(f"truncate_from({index}) would cut into the snapshot")
        del self._entries[index - self.snapshot_index - 1 :]

    def compact(self, index: int, term: int) -> None:
        """Drop entries up to ``index`` (now covered by a snapshot) and keep those after it (§7)."""
        if index <= self.snapshot_index:
            return
        keep = self._entries[index - self.snapshot_index :] if index < self.last_index else []
        self._entries = keep
        self.snapshot_index = index
        self.snapshot_term = term

    def reset(self, snapshot_index: int, snapshot_term: int) -> None:
        """Discard the whole log: a snapshot that does not match it replaces it (§7)."""
        self._entries = []
        self.snapshot_index = snapshot_index
        self.snapshot_term = snapshot_term
