"""Raft (lectures 5-7): a pure protocol core plus the data it exchanges with its drivers.

    from distlab.raft import RaftNode, RaftConfig, Ready, PersistedState

`core` holds the rules (Figure 2 and §7), `log` the compacted log, `messages` the
RPCs, `ready` the driver contract (persist, then send, then apply), `codec` the
plain-data form of messages and records for sockets and disks. Nothing here
performs I/O; `distlab.sim` and `distlab.cluster` are the drivers. `NOOP` is the
command of the blank entry a new leader appends; drivers test for it with `is_noop`
and keep it from their service.
"""

from distlab.raft.core import NOOP, RaftConfig, RaftNode, RaftStatistics, Role, is_noop
from distlab.raft.log import RaftLog
from distlab.raft.messages import (
    AppendEntries,
    AppendEntriesReply,
    Envelope,
    InstallSnapshot,
    InstallSnapshotReply,
    LogEntry,
    Message,
    NodeId,
    ReadIndexReply,
    ReadIndexRequest,
    RequestVote,
    RequestVoteReply,
    message_size,
)
from distlab.raft.ready import (
    ApplyMsg,
    CommandApplied,
    HardState,
    NotLeader,
    PersistedState,
    Proposed,
    ReadReady,
    ReadRefused,
    Ready,
    Snapshot,
    SnapshotApplied,
)

__all__ = [
    "NOOP",
    "AppendEntries",
    "AppendEntriesReply",
    "ApplyMsg",
    "CommandApplied",
    "Envelope",
    "HardState",
    "InstallSnapshot",
    "InstallSnapshotReply",
    "LogEntry",
    "Message",
    "NodeId",
    "NotLeader",
    "PersistedState",
    "Proposed",
    "RaftConfig",
    "RaftLog",
    "RaftNode",
    "RaftStatistics",
    "ReadIndexReply",
    "ReadIndexRequest",
    "ReadReady",
    "ReadRefused",
    "Ready",
    "RequestVote",
    "RequestVoteReply",
    "Role",
    "Snapshot",
    "SnapshotApplied",
    "is_noop",
    "message_size",
]
