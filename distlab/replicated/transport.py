"""How Raft messages travel between real node processes: batched, asynchronous, droppable.

What it is: :class:`PeerSender`, one outgoing queue and one thread per peer, which empties
the queue into ``Raft.step(sender, [message, ...])`` RPCs (one RPC carries every message
queued for that peer since the last one: batching); when the peer is keeping up, the thread
that queued a batch sends it itself. The peer may answer the RPC with messages of its own
(its replies, e.g. AppendEntriesReply), handed to ``on_reply``. And :func:`decode_batch`,
which turns what arrived back into Raft messages, checking every field's type.

What it must never do: block the Raft loop (the loop only appends to a queue), wait for an
answer, or retry. Raft messages are one-way and Raft tolerates their loss (不可靠网络
unreliable network): the leader resends on the next heartbeat, a candidate on the next
election. So a failed call is simply counted and dropped. Nothing from the wire is trusted:
a malformed batch raises ``ValueError`` before any of it reaches the core.

Where it fits: :class:`distlab.replicated.raft_peer.RaftPeer` owns one PeerSender per peer
and serves ``Raft.step``; the byte layout of each message is :mod:`distlab.raft.codec`'s.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.raft import (
    AppendEntries,
    InstallSnapshot,
    LogEntry,
    Message,
    codec,
)

__all__ = ["PeerSender", "SenderStatistics", "decode_batch"]

_ID_FIELDS = {"candidate_id", "leader_id"}
_BOOL_FIELDS = {"vote_granted", "success"}


@dataclass(frozen=True)
class SenderStatistics:
    """What one PeerSender has done."""

    peer: str
    batches_sent: int
    batches_sent_inline: int  # of those, sent by the thread that queued them (no hand-over)
    messages_sent: int
    calls_failed: int  # RPCs that timed out, were refused or were dropped by a partition
    messages_dropped: int  # dropped before sending (queue overflow, or no connection)
    queued: int


class PeerSender:
    """The outgoing queue to one peer, and who sends it.

    ``put`` and ``flush`` never block on the network. When the way is clear -- nothing
    being sent, at most ``inline_in_flight`` earlier calls unanswered and none failed since
    (the peer is alive and reading), a connection open, no snapshot in the batch -- the
    thread that flushes sends the batch itself: one thread hand-over less on the path of
    every write, which on a busy 2-core machine is a good part of a write's latency. One
    unanswered call is allowed because a leader commits on the first follower's answer and
    starts the next write while the other follower's is on its way; a frozen peer still
    gets at most two small batches inline, far less than a socket buffer holds. Otherwise
    the messages wait in the
    queue for the sender thread, so a slow, frozen or unreachable peer only ever delays its
    own queue. Either way one batch at a time leaves, oldest first, as one asynchronous
    ``Raft.step`` call whose answer nobody waits for. If the queue grows beyond
    ``max_queued`` (a peer that stopped answering), the oldest messages are dropped: Raft
    will send fresher ones.
    """

    def __init__(
        self,
        ctx: Any,
        peer: str,
        *,
        rpc_timeout: float = 1.0,
        max_batch: int = 256,
        max_queued: int = 10_000,
        on_reply: Callable[[str, Any], None] | None = None,
        keepalive_s: float = 0.2,
        inline_in_flight: int = 1,
    ) -> None:
        self._ctx = ctx
        self.peer = peer
        self.rpc_timeout = rpc_timeout
        self.max_batch = max_batch
        self.max_queued = max_queued
        self._on_reply = on_reply
        self.keepalive_s = keepalive_s
        self.inline_in_flight = inline_in_flight
        self._queue: deque[Message] = deque()
        # ``with self._lock`` where nothing waits or notifies: the condition's own lock,
        # without its Python-level wrapper (this is on the path of every write).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._sending = False  # a thread is sending a batch (keeps batches in order)
        self._in_flight = 0  # calls sent and not answered yet
        self._last_sent = 0.0
        self._healthy = True  # for logging only the first failure of a run of failures
        self._batches = self._messages = self._failed = self._dropped = self._inline = 0
        self._thread = threading.Thread(
            target=self._run, name=f"raft-send-{ctx.name}-{peer}", daemon=True
        )
        self._thread.start()

    def put(self, messages: list[Message], *, send: bool = True) -> None:
        """Queue messages for the peer and `flush` them -- or, with ``send=False``, only
        queue them: the caller promises to call `flush` soon (see RaftPeer._drive)."""
        with self._lock:
            self._queue.extend(messages)
            overflow = len(self._queue) - self.max_queued
            for _ in range(max(overflow, 0)):
                self._queue.popleft()
                self._dropped += 1
        if send:
            self.flush()

    def flush(self) -> None:
        """Send what is queued from this thread if the way is clear, else wake the sender
        thread. Never blocks on a slow peer."""
        with self._lock:
            if not self._queue:
                return
            # Only to a peer that keeps answering: a frozen peer's socket buffer may be
            # full, and a send into it would block this thread (often a driver).
            inline = (
                self._healthy
                and not (self._closed or self._sending)
                and self._in_flight <= self.inline_in_flight
                and not any(type(message) is InstallSnapshot for message in self._queue)
            )
            if inline:
                inline = self._ctx.client(self.peer).connected
            if not inline:
                self._cond.notify()
                return
            batch = self._take_batch()
            self._inline += 1
        self._transmit(batch)

    def close(self) -> None:
        """Stop the thread; queued messages are dropped (a stopping node owes nobody)."""
        with self._lock:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5.0)

    def statistics(self) -> SenderStatistics:
        """Counters for this peer."""
        with self._lock:
            return SenderStatistics(
                self.peer,
                self._batches,
                self._inline,
                self._messages,
                self._failed,
                self._dropped,
                len(self._queue),
            )

    def _run(self) -> None:
        self._keep_alive()  # connect now, not when the first message is urgent
        while True:
            with self._cond:
                if (self._sending or not self._queue) and not self._closed:
                    self._cond.wait(self.keepalive_s)
                if self._closed:
                    return
                if self._sending:  # a putter is sending; it wakes us if it leaves work
                    continue
                if not self._queue:
                    idle = time.monotonic() - self._last_sent >= self.keepalive_s
                    batch = None
                else:
                    batch = self._take_batch()
            if batch is None:
                if idle:
                    self._keep_alive()
                continue
            self._transmit(batch)

    def _take_batch(self) -> list[Message]:
        # Caller holds _cond; the batch is ours to send until _transmit clears _sending.
        self._sending = True
        count = min(len(self._queue), self.max_batch)
        return [self._queue.popleft() for _ in range(count)]

    def _transmit(self, batch: list[Message]) -> None:
        try:
            payload = [codec.encode(message) for message in batch]
            # call_async returns at once once connected; connecting to a frozen peer can
            # take up to rpc_timeout, which only delays this peer's queue (putters send
            # only on an open connection).
            future = self._ctx.client(self.peer).call_async(
                "Raft.step", self._ctx.name, payload, timeout=self.rpc_timeout
            )
        except Exception as error:
            with self._lock:
                self._dropped += len(batch)
                self._sending = False
                self._cond.notify()
            self._ctx.log.warning(
                "raft: dropped %d messages to %s: %r", len(batch), self.peer, error
            )
            return
        with self._lock:
            self._batches += 1
            self._messages += len(batch)
            self._in_flight += 1
            self._last_sent = time.monotonic()
            self._sending = False
            if self._queue:
                self._cond.notify()  # what arrived meanwhile goes with the thread
        future.add_done_callback(self._done)

    def _keep_alive(self) -> None:
        # A follower sends nothing for a long time (its replies ride on the leader's RPCs),
        # so its connections to the other followers would be cold when it stands for
        # election: connecting then costs a few ms of handshake, during which the other
        # follower may time out too (a split vote). A cheap ping keeps them open.
        with contextlib.suppress(Exception):  # no connection now: the next message retries
            self._ctx.client(self.peer).call_async("Node.ping", timeout=self.rpc_timeout)
        self._last_sent = time.monotonic()

    def _done(self, future: Any) -> None:
        error = future.exception()
        with self._lock:
            self._in_flight -= 1  # before on_reply: what it makes us send may go inline
            if error is not None:
                self._failed += 1
        if error is None:
            self._healthy = True
            answer = future.result()
            if answer and self._on_reply is not None:
                self._on_reply(self.peer, answer)
            return
        if self._healthy:
            self._healthy = False
            self._ctx.log.info(
                "raft: %s unreachable (%s); dropping until it answers", self.peer, error
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
