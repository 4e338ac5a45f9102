"""Raft's messages and records as plain data: `distlab.core.MessageCodec` over Raft's types.

What it is: `RAFT_CODEC`, the one codec (`distlab.core.codec`) built from Raft's message
and record types, and `encode`/`decode`, which refuse anything that is not one of them.
What it must never do: use pickle or evaluate anything from the wire; an unknown type or a
missing field is a `distlab.core.WireError` (a ValueError) that names the problem.
Where it fits: the real-process driver sends messages through distlab.rpc with it
(`distlab.replicated.transport`). Commands must themselves be plain data.
"""

from __future__ import annotations

from typing import Any

from distlab.core import MessageCodec, WireError
from distlab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    LogEntry,
    ReadIndexReply,
    ReadIndexRequest,
    RequestVote,
    RequestVoteReply,
)
from distlab.raft.ready import HardState, Snapshot

RAFT_TYPES: tuple[type, ...] = (
    RequestVote,
    RequestVoteReply,
    AppendEntries,
    AppendEntriesReply,
    InstallSnapshot,
    InstallSnapshotReply,
    ReadIndexRequest,
    ReadIndexReply,
    LogEntry,
    HardState,
    Snapshot,
)

RAFT_CODEC = MessageCodec(RAFT_TYPES)
"""Raft's messages and records <-> plain data."""


def field_names(cls: type) -> tuple[str, ...]:
    """The field names of a Raft record type, in declaration order."""
    return RAFT_CODEC.field_names(cls)


def encode(value: Any) -> dict[str, Any]:
    """A Raft message or record as plain data (see `distlab.core.codec` for the layout)."""
    if type(value) not in RAFT_TYPES:
        raise TypeError(
            f"encode() does not know {type(value).__name__}; it encodes "
            f"{sorted(cls.__name__ for cls in RAFT_TYPES)}"
        )
    return RAFT_CODEC.encode(value)


def decode(data: Any) -> Any:
    """Inverse of `encode`; raises WireError (a ValueError) on anything but a Raft record."""
    value = RAFT_CODEC.decode(data)
    if type(value) not in RAFT_TYPES:
        raise WireError(f"expected a Raft record, got {type(value).__name__}")
    return value
