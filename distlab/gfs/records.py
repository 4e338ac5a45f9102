"""Self-describing records, and the reader that copes with what record append leaves behind.

What it is: GFS's record append (§3.3) promises only that each record lands *at least once*,
whole, at an offset the primary chose. Between the records a replica may hold padding (the
rest of a chunk a record did not fit in), pieces of failed attempts, and duplicates (an
attempt that failed on one replica and was retried). Applications cope, as the paper says
(§2.7.2), by writing records that describe themselves -- a marker, a length, a checksum and
a unique id -- and by reading with a reader that skips whatever does not check out and
drops the ids it has seen. This module is both halves:

- `encode_record(record_id, payload)` -> the bytes a client appends;
- `scan_records(data)` -> every whole record in a chunk's bytes, with its offset (padding,
  zeros and torn pieces are skipped: their checksum does not match);
- `read_unique(chunks)` -> the records of a file in order, each id once.

What it must never do: trust a length it read before checking the checksum (a torn record
may claim anything). Where it fits: the client library appends with it; the consistency
measurement (`consistency.py`) and the chapter's reader use it.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAGIC",
    "Record",
    "encode_record",
    "read_unique",
    "record_at",
    "record_size",
    "scan_records",
]

MAGIC = b"\xa7GFS"
_HEADER = struct.Struct(">4sIIB")  # magic, body length, crc32 of the body, id length
MAX_ID_BYTES = 255


@dataclass(frozen=True)
class Record:
    """One whole record found in a chunk: where it starts and ends, its id and payload."""

    offset: int
    end: int
    record_id: str
    payload: bytes


def encode_record(record_id: str, payload: bytes) -> bytes:
    """The bytes to append for one record (ValueError for an id that does not fit)."""
    raw_id = record_id.encode()
    if not 0 < len(raw_id) <= MAX_ID_BYTES:
        raise ValueError(f"a record id is 1..{MAX_ID_BYTES} bytes of UTF-8, got {record_id!r}")
    body = raw_id + bytes(payload)
    return _HEADER.pack(MAGIC, len(body), zlib.crc32(body), len(raw_id)) + body


def record_size(record_id: str, payload_size: int) -> int:
    """How many bytes `encode_record` makes of an id and a payload of this size."""
    return _HEADER.size + len(record_id.encode()) + payload_size


def record_at(data: bytes, offset: int) -> Record | None:
    """The whole record starting at ``offset`` of ``data``, or None if what is there is no
    record (no marker, too short, or a checksum that does not match)."""
    if offset + _HEADER.size > len(data):
        return None
    magic, length, crc, id_length = _HEADER.unpack_from(data, offset)
    start = offset + _HEADER.size
    end = start + length
    if magic != MAGIC or end > len(data) or id_length > length:
        return None
    body = data[start:end]
    if zlib.crc32(body) != crc:  # torn, overwritten, or not a record at all
        return None
    try:
        record_id = body[:id_length].decode()
    except UnicodeDecodeError:
        return None
    return Record(offset, end, record_id, bytes(body[id_length:]))


def scan_records(data: bytes, base_offset: int = 0) -> list[Record]:
    """Every whole record in ``data``, in order; anything else is skipped. Offsets are
    ``base_offset`` plus the position in ``data``."""
    found = []
    position = data.find(MAGIC)
    while position != -1:
        record = record_at(data, position)
        if record is None:
            position = data.find(MAGIC, position + 1)
            continue
        found.append(Record(base_offset + record.offset, base_offset + record.end,
                            record.record_id, record.payload))  # fmt: skip
        position = data.find(MAGIC, record.end)
    return found


def read_unique(chunks: Iterable[bytes], chunk_size: int | None = None) -> list[Record]:
    """The records of a file (its chunks' bytes, in order), each id once -- what an
    application reading a record-appended file keeps. With ``chunk_size``, offsets are
    file offsets."""
    seen: set[str] = set()
    unique = []
    for index, data in enumerate(chunks):
        base = index * chunk_size if chunk_size else 0
        for record in scan_records(bytes(data), base):
            if record.record_id not in seen:
                seen.add(record.record_id)
                unique.append(record)
    return unique
