"""Raft's messages: the RPCs of Figure 2 (and §7's InstallSnapshot) as frozen dataclasses.

What it is: plain data that a RaftNode consumes (`receive`) and produces (inside
`Ready.messages`, each wrapped in an `Envelope` naming sender and receiver).
What it must never do: hold behaviour or references to nodes; a message is a value
that a driver may copy, delay, duplicate or drop.
Where it fits: `distlab.raft.core` reads and writes these; the simulator and the
real-process driver carry them (`Envelope` and `NodeId` are the core contract's,
`distlab.core`, re-exported here). `message_size` gives a byte estimate so tests can
bound traffic without a real codec.

The paper's RPCs are request/reply pairs; here each half is a one-way message,
because a driver may lose one half and not the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.core import Envelope as Envelope  # the contract's, re-exported
from distlab.core import NodeId as NodeId


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One slot of the replicated log: the term it was created in and the service's command."""

    term: int
    index: int
    command: Any


@dataclass(frozen=True, slots=True)
class RequestVote:
    """§5.2: a candidate asks for a vote; §5.4.1: it tells how up to date its log is."""

    term: int
    candidate_id: NodeId
    last_log_index: int
    last_log_term: int


@dataclass(frozen=True, slots=True)
class RequestVoteReply:
    """The voter's current term (so a stale candidate steps down) and its decision."""

    term: int
    vote_granted: bool


@dataclass(frozen=True, slots=True)
class AppendEntries:
    """§5.3: replicate entries after (prev_log_index, prev_log_term); empty = heartbeat."""

    term: int
    leader_id: NodeId
    prev_log_index: int
    prev_log_term: int
    entries: tuple[LogEntry, ...]
    leader_commit: int
    read_round: int = 0
    """The leader's latest ReadIndex round (§6.4); echoed in the reply, which proves the
    follower still took this node for its leader after that round began."""


@dataclass(frozen=True, slots=True)
class AppendEntriesReply:
    """The follower's answer.

    On success ``match_index`` is the last index known to match the leader's log
    (the reply carries it so that a delayed or duplicated reply is still exact).
    On failure ``conflict_term``/``conflict_index`` let the leader skip a whole
    term of mismatching entries in one round (the "fast backtracking" of the
    extended paper's §5.3 note and the 6.824 guide). ``conflict_term`` is None when
    the follower's log is simply too short. ``read_round`` echoes the request's
    (ReadIndex, §6.4); the core fills it in, so a hook that builds replies need not.
    """

    term: int
    success: bool
    match_index: int = 0
    conflict_index: int = 0
    conflict_term: int | None = None
    read_round: int = 0


@dataclass(frozen=True, slots=True)
class InstallSnapshot:
    """§7: the leader sends its snapshot to a follower whose next entry was compacted away."""

    term: int
    leader_id: NodeId
    last_included_index: int
    last_included_term: int
    data: bytes


@dataclass(frozen=True, slots=True)
class InstallSnapshotReply:
    """The follower's term, and which snapshot it answers (replies may arrive late)."""

    term: int
    last_included_index: int


@dataclass(frozen=True, slots=True)
class ReadIndexRequest:
    """Follower reads (the Raft thesis §6.4): a follower asks its leader for a read index.

    ``requests`` are the follower's own numbers for the reads it was asked (reads that
    arrived together travel in one request); the leader echoes them in its reply.
    """

    term: int
    requests: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ReadIndexReply:
    """The leader's answer to a `ReadIndexRequest`.

    With ``success``, a majority confirmed that the sender still led after the request
    arrived, and ``index`` is its commit index from then: once the follower has applied that
    far, its state is at least as new as every write completed before the reads began.
    Without, the sender cannot confirm (it no longer leads), and the reads are refused.
    """

    term: int
    success: bool
    requests: tuple[int, ...]
    index: int = 0


Message = (
    RequestVote
    | RequestVoteReply
    | AppendEntries
    | AppendEntriesReply
    | InstallSnapshot
    | InstallSnapshotReply
    | ReadIndexRequest
    | ReadIndexReply
)

REQUESTS = (RequestVote, AppendEntries, InstallSnapshot, ReadIndexRequest)
"""The message types that start an exchange (6.824 counts these as "RPCs")."""


_FIELD_BYTES = 8  # a rough size for an int, a bool or a short name on the wire


def command_size(command: Any) -> int:
    """A byte estimate of a service command (its text form; bytes count as themselves)."""
    if type(command) is str:  # the common case, first: str(command) is command itself
        return len(command)
    if isinstance(command, (bytes, bytearray)):
        return len(command)
    return len(str(command))


def message_size(message: Message) -> int:
    """A byte estimate of a message on the wire: fixed fields plus commands and snapshot data.

    Only meant for comparing traffic (e.g. "bytes sent stay close to the bytes
    of the commands"), not for predicting a real codec's output.
    """
    fixed = _FIXED_SIZES.get(type(message))
    if fixed is not None:
        return fixed
    match message:
        case AppendEntries(entries=entries):
            # A loop rather than sum() over a generator, and str commands (the usual
            # ones) sized in line: the simulator sizes every message it carries.
            size = 6 * _FIELD_BYTES
            for entry in entries:
                command = entry.command
                size += 2 * _FIELD_BYTES + (
                    len(command) if type(command) is str else command_size(command)
                )
            return size
        case InstallSnapshot(data=data):
            return 5 * _FIELD_BYTES + len(data)
        case ReadIndexRequest(requests=requests):
            return (1 + len(requests)) * _FIELD_BYTES
        case ReadIndexReply(requests=requests):
            return (3 + len(requests)) * _FIELD_BYTES
    raise TypeError(f"message_size() got {type(message).__name__}, which is not a Raft message")


_FIXED_SIZES: dict[type, int] = {
    RequestVote: 4 * _FIELD_BYTES,
    RequestVoteReply: 2 * _FIELD_BYTES,
    AppendEntriesReply: 5 * _FIELD_BYTES,
    InstallSnapshotReply: 2 * _FIELD_BYTES,
}
