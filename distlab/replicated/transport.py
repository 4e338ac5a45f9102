"""How Raft messages travel between real node processes: batched, asynchronous, droppable.

What it is: :func:`raft_sender`, the `distlab.cluster.peer_sender.PeerSender` one Raft
server keeps for each peer (one outgoing queue and thread per peer, whose batches leave as
``Raft.step(sender, [message, ...])`` RPCs; a peer answers with messages of its own, e.g.
AppendEntriesReply, handed to ``on_reply``); and :func:`decode_batch`, which turns what
arrived back into Raft messages, checking every field's type.

What it must never do: block the Raft loop (the loop only appends to a queue), wait for an
answer, or retry. Raft messages are one-way and Raft tolerates their loss (不可靠网络
unreliable network): the leader resends on the next heartbeat, a candidate on the next
election. So a failed call is simply counted and dropped. Nothing from the wire is trusted:
a malformed batch raises ``ValueError`` before any of it reaches the core.

Where it fits: :class:`distlab.replicated.raft_peer.RaftPeer` owns one sender per peer
and serves ``Raft.step``; the byte layout of each message is :mod:`distlab.raft.codec`'s.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distlab.cluster.peer_sender import PeerSender, SenderStatistics
from distlab.raft import (
    AppendEntries,
    InstallSnapshot,
    LogEntry,
    Message,
    codec,
)

__all__ = ["PeerSender", "SenderStatistics", "decode_batch", "raft_sender"]

_ID_FIELDS = {"candidate_id", "leader_id"}
_BOOL_FIELDS = {"vote_granted", "success"}


def raft_sender(
    ctx: Any,
    peer: str,
    *,
    rpc_timeout: float = 1.0,
    on_reply: Callable[[str, Any], None] | None = None,
    keepalive_s: float = 0.2,
) -> PeerSender:
    """The sender of Raft messages to ``peer``: ``Raft.step`` batches, encoded by the Raft
    codec, kept warm by a ping every ``keepalive_s`` (a follower sends nothing for long
    stretches), and a snapshot always through the sender thread (it may be large, and a
    large send could block the driver on a slow peer)."""
    return PeerSender(
        ctx,
        peer,
        "Raft.step",
        encode=codec.encode,
        rpc_timeout=rpc_timeout,
        on_reply=on_reply,
        keepalive_s=keepalive_s,
        must_queue=lambda message: type(message) is InstallSnapshot,
        thread_name=f"raft-send-{ctx.name}-{peer}",
    )


def decode_batch(batch: Any) -> list[Message]:
    """The Raft messages in a ``Raft.step`` batch; ValueError naming the first bad one."""
    if type(batch) is not list:
        raise ValueError(f"Raft.step expects a list of messages, got {type(batch).__name__}")
    return [_decode_one(position, item) for position, item in enumerate(batch)]


def _decode_one(position: int, item: Any) -> Message:
    try:
        message = codec.decode(item)
    except (ValueError, TypeError) as error:
        raise ValueError(
            f"message {position} of the batch is not a Raft message: {error}"
        ) from None
    if not isinstance(message, Message):  # the union of the Raft message types
        raise ValueError(f"message {position}: {type(message).__name__} is not a Raft message")
    for name in codec.field_names(type(message)):
        value = getattr(message, name)
        if name in _ID_FIELDS:
            ok = type(value) is str
        elif name in _BOOL_FIELDS:
            ok = type(value) is bool
        elif name == "conflict_term":
            ok = value is None or (type(value) is int and value >= 0)
        elif name == "data":
            ok = type(value) is bytes
        elif name == "entries":
            ok = isinstance(message, AppendEntries) and _entries_ok(message, value)
        elif name == "requests":  # a follower's read numbers (ReadIndexRequest/-Reply)
            ok = type(value) is tuple and all(type(r) is int and r >= 0 for r in value)
        else:
            ok = type(value) is int and value >= 0
        if not ok:
            raise ValueError(
                f"message {position}: {type(message).__name__}.{name} has a bad value {value!r:.60}"
            )
    return message


def _entries_ok(message: AppendEntries, entries: tuple[LogEntry, ...]) -> bool:
    expected = message.prev_log_index + 1
    for entry in entries:
        if type(entry.term) is not int or type(entry.index) is not int:
            return False
        if entry.index != expected or not 0 < entry.term <= message.term:
            return False
        expected += 1
    return True
