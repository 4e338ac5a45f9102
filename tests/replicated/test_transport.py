"""decode_batch: only well-formed Raft messages reach the core; load_service: clear errors."""

from __future__ import annotations

import pytest

from distlab.raft import (
    AppendEntries,
    LogEntry,
    ReadIndexReply,
    ReadIndexRequest,
    RequestVote,
    codec,
)
from distlab.replicated import CommandList, decode_batch, load_service


def append(**changes: object) -> dict:
    message = AppendEntries(1, "n0", 0, 0, (LogEntry(1, 1, ["x", 1]),), 0)
    data = codec.encode(message)
    names = codec.field_names(AppendEntries)
    for name, value in changes.items():
        data["fields"][names.index(name)] = value
    return data


def test_round_trip() -> None:
    messages = [
        RequestVote(3, "n1", 4, 2),
        AppendEntries(1, "n0", 0, 0, (LogEntry(1, 1, "c"),), 0),
        ReadIndexRequest(2, (7, 8)),
        ReadIndexReply(2, True, (7, 8), 5),
    ]
    assert decode_batch([codec.encode(m) for m in messages]) == messages


@pytest.mark.parametrize(
    "batch, complaint",
    [
        ("not a list", "list of messages"),
        ([{"no": "type"}], "not a Raft message"),
        ([{"type": "Pickle"}], "not a Raft message"),
        ([codec.encode(LogEntry(1, 1, "c"))], "LogEntry is not a Raft message"),
        ([append(term="1")], "AppendEntries.term"),
        ([append(term=-1)], "AppendEntries.term"),
        ([append(leader_id=7)], "leader_id"),
        ([append(entries=[[1, 5, "gap"]])], "has a bad value"),
        ([append(entries=[[9, 1, "future term"]])], "has a bad value"),
        ([append(entries=[["x"]])], "LogEntry needs 3 fields"),
        ([append(entries=[{"__msg__": "LogEntry", "fields": [1, 1, "c"]}])], "must hold"),
        ([{"__msg__": "RequestVoteReply", "fields": [1, 1]}], "vote_granted"),
        ([{"__msg__": "ReadIndexRequest", "fields": [1, [3, -1]]}], "requests"),
        ([{"__msg__": "ReadIndexRequest", "fields": [1, [True]]}], "requests"),
        ([{"__msg__": "ReadIndexRequest", "fields": [1, "abc"]}], "requests"),
        ([{"__msg__": "ReadIndexReply", "fields": [1, 1, [2], 3]}], "success"),
        ([{"__msg__": "ReadIndexReply", "fields": [1, True, [2], -3]}], "index"),
    ],
)
def test_malformed_batches_are_refused(batch: object, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        decode_batch(batch)


def test_load_service() -> None:
    assert isinstance(load_service(None), CommandList)
    assert isinstance(load_service("distlab.replicated.service:CommandList"), CommandList)
    with pytest.raises(ValueError, match="module:ClassName"):
        load_service("CommandList")
    with pytest.raises(TypeError, match="not a ReplicatedService"):
        load_service("collections:OrderedDict")


def test_command_list_snapshot_round_trip() -> None:
    service = CommandList()
    assert [service.apply(c) for c in (["a", 1], "b")] == [1, 2]
    copy = CommandList()
    copy.restore(service.snapshot())
    assert copy.query() == [["a", 1], "b"] and copy.query("length") == 2
