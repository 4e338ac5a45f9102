"""DurableLog: an append-only file of checksummed records, for state that must survive a crash.

This is the non-volatile storage (非易失存储) a node uses to be recoverable (可恢复性): Raft's
log, a KV server's write-ahead log. Layout on disk::

    header  : magic "DLOG" | version u16 | flags u16 | first_index u64 | crc32(header) u32
    record  : length u32 | crc32(length bytes + payload) u32 | payload (length bytes)
    record  : ...

``append`` only buffers in this process; ``sync`` writes the buffer and fsyncs. So a crash
(SIGKILL) loses every record appended since the last ``sync`` -- exactly the "acknowledge only
after it is durable" rule a server must follow.

Recovery on open reads every record and checks it. Two kinds of damage look different:

* a **torn tail** -- the last write was cut short by a crash, so the file ends in a partial or
  unchecksummable record and no valid record follows. It was never synced, so it is dropped
  (with a warning) and the file is truncated to the last good record.
* **corruption in the middle** -- a bad record *followed by valid records*. Those later records
  may have been acknowledged, so silently dropping them would lose data: raise
  :class:`CorruptLogError` naming the file and the offset.

(Recovery tells them apart by searching the bytes after a bad record for any valid record. A
torn tail whose partial payload happens to contain a complete, correctly checksummed record
image would be reported as corruption -- a loud false alarm, never a silent loss.)

This module never returns a record whose checksum failed and never crash-loops on a torn tail.
It depends on nothing else in distlab (only :mod:`distlab.storage.atomic` for rewrites).
"""

from __future__ import annotations

import os
import struct
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from distlab.storage.atomic import write_atomic
from distlab.storage.errors import CorruptLogError

__all__ = ["DurableLog", "LogStatistics", "TornTailWarning"]

MAGIC = b"DLOG"
VERSION = 1
_HEADER = struct.Struct(">4sHHQ")  # magic, version, flags, first_index; then crc32 (u32)
HEADER_SIZE = _HEADER.size + 4
_RECORD = struct.Struct(">II")  # length, crc32(length bytes + payload)
RECORD_OVERHEAD = _RECORD.size
MAX_RECORD_BYTES = 1 << 30
# sync() hands the buffer to the OS in chunks, as a real disk write would be split; a crash
# between chunks leaves a torn tail that recovery must handle.
_WRITE_CHUNK = 4096


class TornTailWarning(UserWarning):
    """Recovery dropped bytes at the end of a log that were never completely written."""


@dataclass(frozen=True)
class LogStatistics:
    """What a DurableLog has done since it was opened."""

    first_index: int
    records: int  # records in the log, synced or not
    unsynced_records: int  # appended but not yet synced (lost by a crash)
    file_bytes: int  # bytes on disk (excluding the unsynced buffer)
    appends: int
    syncs: int
    torn_bytes_dropped: int  # bytes recovery cut off the tail when opening


def _encode_header(first_index: int) -> bytes:
    head = _HEADER.pack(MAGIC, VERSION, 0, first_index)
    return head + struct.pack(">I", zlib.crc32(head))


def _encode_record(payload: bytes) -> bytes:
    length = struct.pack(">I", len(payload))
    return length + struct.pack(">I", zlib.crc32(payload, zlib.crc32(length))) + payload


def _record_at(data: bytes | memoryview, offset: int) -> int | None:
    """End offset of a valid record starting at ``offset``, or None if none is there."""
    if offset + RECORD_OVERHEAD > len(data):
        return None
    length, crc = _RECORD.unpack_from(data, offset)
    end = offset + RECORD_OVERHEAD + length
    if length > MAX_RECORD_BYTES or end > len(data):
        return None
    body = data[offset + RECORD_OVERHEAD : end]
    if zlib.crc32(body, zlib.crc32(data[offset : offset + 4])) != crc:
        return None
    return end


def _scan(path: Path, data: bytes) -> tuple[int, list[int], int]:
    """Check a whole log image: (first_index, record start offsets, end of last good record).

    Raises CorruptLogError for a bad header or a bad record followed by a valid one.
    """
    if len(data) < HEADER_SIZE:
        raise CorruptLogError(path, 0, f"file is {len(data)} bytes, shorter than the header")
    magic, version, _flags, first_index = _HEADER.unpack_from(data)
    (header_crc,) = struct.unpack_from(">I", data, _HEADER.size)
    if magic != MAGIC:
        raise CorruptLogError(path, 0, f"bad magic {magic!r}: not a distlab log")
    if zlib.crc32(data[: _HEADER.size]) != header_crc:
        raise CorruptLogError(path, 0, "header checksum mismatch")
    if version != VERSION:
        raise CorruptLogError(path, 4, f"unsupported log version {version}")
    view = memoryview(data)
    offsets: list[int] = []
    offset = HEADER_SIZE
    while offset < len(data):
        end = _record_at(view, offset)
        if end is None:
            # Torn tail or corruption? Corruption if any valid record starts later on.
            for later in range(offset + 1, len(data) - RECORD_OVERHEAD + 1):
                if _record_at(view, later) is not None:
                    raise CorruptLogError(
                        path,
                        offset,
                        f"record {first_index + len(offsets)} fails its checksum but a valid "
                        f"record follows at offset {later}; refusing to drop acknowledged data",
                    )
            break
        offsets.append(offset)
        offset = end
    return first_index, offsets, offset


class DurableLog:
    """An append-only, checksummed, fsync'ed log of byte records, with absolute indices.

    Records are numbered from ``first_index`` (0 for a new log; raised by :meth:`compact`).
    Thread-safe: one lock guards the file and the buffer.

    >>> log = DurableLog(path)            # open or create; recovers from a torn tail
    >>> log.append(b"x=1"); log.sync()    # acknowledge only after sync()
    >>> list(log.records())
    [b'x=1']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._pending: list[bytes] = []  # encoded records not yet written
        self._appends = 0
        self._syncs = 0
        self._torn_dropped = 0
        if not self.path.exists() or self.path.stat().st_size == 0:
            # Created atomically, so a crash never leaves a torn header behind.
            write_atomic(self.path, _encode_header(0))
        self._recover()

    # -- opening -------------------------------------------------------------------------
    def _recover(self) -> None:
        data = self.path.read_bytes()
        self._first_index, self._offsets, good_end = _scan(self.path, data)
        if good_end < len(data):
            dropped = len(data) - good_end
            self._torn_dropped += dropped
            warnings.warn(
                f"{self.path}: dropped a torn tail of {dropped} bytes at offset {good_end} "
                f"(a write cut short by a crash; it was never synced)",
                TornTailWarning,
                stacklevel=3,
            )
            with open(self.path, "r+b") as f:
                f.truncate(good_end)
                os.fsync(f.fileno())
        self._fd = os.open(self.path, os.O_RDWR)
        self._file_end = good_end

    # -- writing -------------------------------------------------------------------------
    def append(self, record: bytes) -> int:
        """Buffer one record; returns its index. Not durable until :meth:`sync`."""
        if not isinstance(record, (bytes, bytearray, memoryview)):
            raise TypeError(f"DurableLog records are bytes, got {type(record).__name__}")
        if len(record) > MAX_RECORD_BYTES:
            raise ValueError(f"record of {len(record)} bytes exceeds {MAX_RECORD_BYTES}")
        with self._lock:
            self._check_open()
            self._pending.append(_encode_record(bytes(record)))
            self._appends += 1
            return self._first_index + len(self._offsets) + len(self._pending) - 1

    def extend(self, records: Iterable[bytes]) -> None:
        """Append several records (buffered)."""
        for record in records:
            self.append(record)

    def sync(self) -> None:
        """Write every buffered record and fsync: when this returns, they survive a crash."""
        with self._lock:
            self._check_open()
            self._flush_locked()
            os.fsync(self._fd)
            self._syncs += 1

    def _flush_locked(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        starts = []
        position = self._file_end
        for encoded in self._pending:
            starts.append(position)
            position += len(encoded)
        view = memoryview(data)
        offset = 0
        while offset < len(data):
            offset += os.pwrite(
                self._fd, view[offset : offset + _WRITE_CHUNK], self._file_end + offset
            )
        self._offsets.extend(starts)
        self._file_end = position
        self._pending.clear()

    def truncate_after(self, index: int) -> None:
        """Delete every record after ``index`` (keep ``first_index .. index``), durably.

        Raft uses this to delete a conflicting suffix (§5.3). ``index = first_index - 1``
        empties the log. Buffered records are flushed first so indices stay consistent.
        """
        with self._lock:
            self._check_open()
            self._flush_locked()
            last = self._first_index + len(self._offsets) - 1
            if index < self._first_index - 1:
                raise IndexError(
                    f"truncate_after({index}): records before first_index "
                    f"{self._first_index} were compacted away"
                )
            if index >= last:
                return
            keep = index - self._first_index + 1
            cut = self._offsets[keep]
            os.ftruncate(self._fd, cut)
            os.fsync(self._fd)
            del self._offsets[keep:]
            self._file_end = cut

    def rewrite(self, records: Iterable[bytes], first_index: int | None = None) -> None:
        """Atomically replace the whole log with ``records`` (numbered from ``first_index``)."""
        with self._lock:
            self._check_open()
            start = self._first_index if first_index is None else first_index
            self._replace_locked(start, [bytes(r) for r in records])

    def compact(self, upto: int) -> None:
        """Drop records with index < ``upto`` (they are covered by a snapshot), atomically."""
        with self._lock:
            self._check_open()
            self._flush_locked()
            if upto <= self._first_index:
                return
            last = self._first_index + len(self._offsets) - 1
            if upto > last + 1:
                raise IndexError(f"compact({upto}): the log ends at index {last}")
            kept = list(self._read_locked(upto))
            self._replace_locked(upto, kept)

    def _replace_locked(self, first_index: int, records: list[bytes]) -> None:
        self._pending.clear()
        image = _encode_header(first_index) + b"".join(_encode_record(r) for r in records)
        os.close(self._fd)
        write_atomic(self.path, image)
        self._fd = -1
        self._recover()
        self._syncs += 1

    # -- reading -------------------------------------------------------------------------
    @property
    def first_index(self) -> int:
        """Index of the first record still in the log."""
        return self._first_index

    @property
    def next_index(self) -> int:
        """Index the next appended record will get."""
        with self._lock:
            return self._first_index + len(self._offsets) + len(self._pending)

    def __len__(self) -> int:
        with self._lock:
            return len(self._offsets) + len(self._pending)

    def records(self, start: int | None = None) -> Iterator[bytes]:
        """Every record from ``start`` (default: ``first_index``), including unsynced ones.

        Reading never writes: unsynced records come from the in-memory buffer.
        """
        with self._lock:
            self._check_open()
            begin = self._first_index if start is None else start
            found = list(self._read_locked(begin))
            skip = max(begin - self._first_index - len(self._offsets), 0)
            found.extend(encoded[RECORD_OVERHEAD:] for encoded in self._pending[skip:])
            return iter(found)

    def __getitem__(self, index: int) -> bytes:
        with self._lock:
            self._check_open()
            position = index - self._first_index
            if 0 <= position < len(self._offsets):
                return next(iter(self._read_locked(index, index + 1)))
            if 0 <= position - len(self._offsets) < len(self._pending):
                return self._pending[position - len(self._offsets)][RECORD_OVERHEAD:]
            raise IndexError(
                f"log index {index} out of range [{self._first_index}, "
                f"{self._first_index + len(self._offsets) + len(self._pending)})"
            )

    def _read_locked(self, start: int, stop: int | None = None) -> Iterator[bytes]:
        first = max(start - self._first_index, 0)
        last = len(self._offsets) if stop is None else stop - self._first_index
        for position in range(first, last):
            offset = self._offsets[position]
            end = self._offsets[position + 1] if position + 1 < len(self._offsets) else None
            end = self._file_end if end is None else end
            raw = os.pread(self._fd, end - offset, offset)
            length, crc = _RECORD.unpack_from(raw)
            payload = raw[RECORD_OVERHEAD:]
            # Re-check on every read: bytes on disk can rot after recovery.
            if len(payload) != length or zlib.crc32(payload, zlib.crc32(raw[:4])) != crc:
                raise CorruptLogError(
                    self.path, offset, f"record {self._first_index + position} fails its checksum"
                )
            yield payload

    def statistics(self) -> LogStatistics:
        """A snapshot of counters (see :class:`LogStatistics`)."""
        with self._lock:
            return LogStatistics(
                first_index=self._first_index,
                records=len(self._offsets) + len(self._pending),
                unsynced_records=len(self._pending),
                file_bytes=self._file_end,
                appends=self._appends,
                syncs=self._syncs,
                torn_bytes_dropped=self._torn_dropped,
            )

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        """Sync and close. Closing is a graceful stop; a crash is simply not calling this."""
        with self._lock:
            if self._fd < 0:
                return
            self._flush_locked()
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _check_open(self) -> None:
        if self._fd < 0:
            raise ValueError(f"{self.path}: DurableLog is closed")

    def __enter__(self) -> DurableLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"DurableLog({str(self.path)!r}, first_index={self._first_index}, "
            f"records={len(self._offsets) + len(self._pending)})"
        )
