"""Raft messages and persisted records as plain data (dicts, lists, ints, str, bytes).

What it is: `encode(value)` turns a Raft message, `LogEntry`, `HardState` or
`Snapshot` into a dict of primitives that msgpack or JSON-like codecs can carry;
`decode(data)` turns it back, accepting only the known type names.
What it must never do: use pickle or evaluate anything from the wire; an unknown
type or a missing field is an error that names the problem.
Where it fits: the real-process driver sends messages through distlab.rpc and
writes log records with distlab.storage; both need bytes, and this module is the
one place that knows the field layout. Commands must themselves be plain data.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from distlab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    LogEntry,
    RequestVote,
    RequestVoteReply,
)
from distlab.raft.ready import HardState, Snapshot

_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        RequestVote,
        RequestVoteReply,
        AppendEntries,
        AppendEntriesReply,
        InstallSnapshot,
        InstallSnapshotReply,
        LogEntry,
        HardState,
        Snapshot,
    )
}


# Each record type's field names, looked up once: dataclasses.fields() builds a new tuple
# on every call, and every message a node sends or receives goes through here.
_FIELD_NAMES: dict[type, tuple[str, ...]] = {
    cls: tuple(field.name for field in fields(cls)) for cls in _TYPES.values()
}
_FIELD_SETS: dict[type, frozenset[str]] = {
    cls: frozenset(names) for cls, names in _FIELD_NAMES.items()
}


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a Raft record type this codec knows, in declaration order."""
    return _FIELD_NAMES[cls]


def encode(value: Any) -> dict[str, Any]:
    """A Raft message or record as ``{"type": name, field: value, ...}`` of plain data."""
    name = type(value).__name__
    if _TYPES.get(name) is not type(value):
        raise TypeError(f"encode() does not know {name}; it encodes {sorted(_TYPES)}")
    data: dict[str, Any] = {"type": name}
    for field_name in _FIELD_NAMES[type(value)]:
        item = getattr(value, field_name)
        if field_name == "entries":
            item = [[e.term, e.index, e.command] for e in item]
        data[field_name] = item
    return data


def decode(data: dict[str, Any]) -> Any:
    """Inverse of `encode`; raises ValueError on an unknown type or wrong fields."""
    if not isinstance(data, dict) or "type" not in data:
        raise ValueError(f"decode() expects a dict with a 'type' key, got {type(data).__name__}")
    cls = _TYPES.get(data["type"])
    if cls is None:
        raise ValueError(f"unknown Raft record type {data['type']!r}")
    names = _FIELD_SETS[cls]
    if len(data) != len(names) + 1 or not names.issubset(data):
        given = set(data) - {"type"}
        raise ValueError(f"{data['type']} needs fields {sorted(names)}, got {sorted(given)}")
    values = {name: data[name] for name in _FIELD_NAMES[cls]}
    if "entries" in values:
        values["entries"] = tuple(LogEntry(t, i, c) for t, i, c in values["entries"])
    if "data" in values and isinstance(values["data"], (bytearray, memoryview)):
        values["data"] = bytes(values["data"])
    return cls(**values)
