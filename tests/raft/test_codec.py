"""The codec round-trips every Raft message and record through msgpack, and rejects junk."""

from __future__ import annotations

import msgpack
import pytest

from distlab.raft import (
    AppendEntries,
    AppendEntriesReply,
    HardState,
    InstallSnapshot,
    InstallSnapshotReply,
    LogEntry,
    ReadIndexReply,
    ReadIndexRequest,
    RequestVote,
    RequestVoteReply,
    Snapshot,
)
from distlab.raft.codec import decode, encode

VALUES = [
    RequestVote(3, "n1", 7, 2),
    RequestVoteReply(3, True),
    AppendEntries(4, "n2", 5, 3, (LogEntry(4, 6, "put x 1"), LogEntry(4, 7, 42)), 5),
    AppendEntries(4, "n2", 5, 3, (), 5),
    AppendEntriesReply(4, False, 0, 3, None),
    AppendEntriesReply(4, True, 9, 0, None),
    InstallSnapshot(5, "n0", 10, 4, b"\x00state"),
    InstallSnapshotReply(5, 10),
    ReadIndexRequest(5, (1, 2, 3)),
    ReadIndexReply(5, True, (1, 2), 9),
    ReadIndexReply(5, False, (4,)),
    LogEntry(2, 1, ["append", "k", "v"]),
    HardState(6, "n3"),
    HardState(0, None),
    Snapshot(10, 4, b"abc"),
]


@pytest.mark.parametrize("value", VALUES, ids=lambda v: type(v).__name__)
def test_round_trip_through_msgpack(value):
    wire = msgpack.packb(encode(value), use_bin_type=True)
    back = decode(msgpack.unpackb(wire, raw=False))
    assert back == value and type(back) is type(value)


def test_unknown_type_and_wrong_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown message type 'Exec'"):
        decode({"__msg__": "Exec", "fields": ["rm -rf /"]})
    with pytest.raises(ValueError, match="needs 2 fields"):
        decode({"__msg__": "RequestVoteReply", "fields": [1]})
    with pytest.raises(ValueError, match="expected a Raft record"):
        decode([1, 2])
    with pytest.raises(TypeError, match="does not know"):
        encode(object())
