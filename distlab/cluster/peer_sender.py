"""PeerSender: the outgoing queue to one peer, batched, asynchronous, droppable.

What it is: one queue and one thread per peer, which empties the queue into
``method(sender, [message, ...])`` RPCs -- one RPC carries every message queued for that
peer since the last one (batching) -- and, while the peer keeps up, lets the thread that
queued a batch send it itself. The peer may answer an RPC with something of its own (Raft's
followers answer AppendEntries in the reply), handed to ``on_reply``. Both ways of running a
core in a node process send through it: `RaftPeer` (``Raft.step``) and `CoreNode`
(``Core.step_many``), so chain, Aurora, primary-backup and the rest get the same batching
and the same protection from a stalled peer as Raft.

What it must never do: block the thread that queues (a core's driver) on the network, wait
for an answer, or retry. Protocol messages are one-way and their protocols tolerate loss
(不可靠网络 unreliable network): Raft's leader resends on its next heartbeat, Aurora's
writer on its next round. So a failed call is counted and dropped, and so is the backlog
behind it while the peer cannot be reached -- stale messages would only arrive late.

Where it fits: in `distlab.cluster` beside `CoreNode`; messages are encoded (by the
system's codec, given as ``encode``) on the thread that sends them, after the lock.
"""

from __future__ import annotations

import contextlib
import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["PeerSender", "SenderStatistics"]


@dataclass(frozen=True)
class SenderStatistics:
    """What one PeerSender has done."""

    peer: str
    batches_sent: int
    batches_sent_inline: int  # of those, sent by the thread that queued them (no hand-over)
    messages_sent: int
    messages_deferred: int  # of those, carried by the sender thread (the peer lagged)
    calls_failed: int  # RPCs that timed out, were refused or were dropped by a partition
    messages_in_failed_calls: int  # sent, but their call failed: they may never have arrived
    messages_dropped: int  # never sent: queue overflow, no connection, or a failed peer's backlog
    queued: int


class PeerSender:
    """The outgoing queue to one peer, and who sends it.

    ``put`` and ``flush`` never block on the network. When the way is clear -- nothing
    being sent, at most ``inline_in_flight`` earlier calls unanswered and none failed since
    (the peer is alive and reading), a connection open, nothing in the batch that
    ``must_queue`` claims (a large snapshot, say) -- the thread that flushes sends the batch
    itself: one thread hand-over less on the path of every write, which on a busy 2-core
    machine is a good part of a write's latency. One unanswered call is allowed because a
    Raft leader commits on the first follower's answer and starts the next write while the
    other follower's is on its way; a frozen peer still gets at most two small batches
    inline, far less than a socket buffer holds.

    Otherwise the messages wait for the sender thread, so a slow, frozen or unreachable peer
    only ever delays its own queue: a send into a peer that stopped reading blocks only that
    thread (and the RPC client's connector does the connecting, in call order). Either way
    one batch at a time leaves, oldest first, as one asynchronous call whose answer nobody
    waits for. If the queue grows beyond ``max_queued``, the oldest messages are dropped;
    when a call fails (no connection, a timeout), what waits behind it is dropped too.

    ``keepalive_s`` (None: off) pings an idle peer that often, so the connection is warm
    when a message becomes urgent (a Raft follower standing for election, say).
    """

    def __init__(
        self,
        ctx: Any,
        peer: str,
        method: str,
        *,
        encode: Callable[[Any], Any] = lambda message: message,
        rpc_timeout: float = 1.0,
        max_batch: int = 256,
        max_queued: int = 10_000,
        on_reply: Callable[[str, Any], None] | None = None,
        keepalive_s: float | None = None,
        inline_in_flight: int = 1,
        must_queue: Callable[[Any], bool] | None = None,
        thread_name: str | None = None,
    ) -> None:
        self._ctx = ctx
        self.peer = peer
        self.method = method
        self._encode = encode
        self.rpc_timeout = rpc_timeout
        self.max_batch = max_batch
        self.max_queued = max_queued
        self._on_reply = on_reply
        self.keepalive_s = keepalive_s
        self.inline_in_flight = inline_in_flight
        self._must_queue = must_queue
        self._queue: deque[Any] = deque()
        # ``with self._lock`` where nothing waits or notifies: the condition's own lock,
        # without its Python-level wrapper (this is on the path of every write).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._closed = False
        self._sending = False  # a thread is sending a batch (keeps batches in order)
        self._in_flight = 0  # calls sent and not answered yet
        self._last_sent = 0.0
        self._healthy = True  # the last call was answered (inline sends only then)
        self._batches = self._messages = self._failed = self._dropped = 0
        self._inline = self._deferred = self._unconfirmed = 0
        self._thread = threading.Thread(
            target=self._run, name=thread_name or f"send-{ctx.name}-{peer}", daemon=True
        )
        self._thread.start()

    def put(self, messages: list[Any], *, send: bool = True) -> None:
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
        must_queue = self._must_queue
        with self._lock:
            if not self._queue:
                return
            # Only to a peer that keeps answering: a frozen peer's socket buffer may be
            # full, and a send into it would block this thread (often a driver).
            inline = (
                self._healthy
                and not (self._closed or self._sending)
                and self._in_flight <= self.inline_in_flight
                and (must_queue is None or not any(must_queue(m) for m in self._queue))
            )
            if inline:
                inline = self._ctx.client(self.peer).connected
            if not inline:
                self._cond.notify()
                return
            batch = self._take_batch()
            self._inline += 1
        self._transmit(batch, inline=True)

    def close(self) -> None:
        """Stop the thread; queued messages are dropped (a stopping node owes nobody). A
        thread that is connecting to a stalled peer ends within ``rpc_timeout``."""
        with self._lock:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=self.rpc_timeout + 5.0)

    def statistics(self) -> SenderStatistics:
        """Counters for this peer."""
        with self._lock:
            return SenderStatistics(
                self.peer,
                self._batches,
                self._inline,
                self._messages,
                self._deferred,
                self._failed,
                self._unconfirmed,
                self._dropped,
                len(self._queue),
            )

    def _run(self) -> None:
        if self.keepalive_s is not None:
            self._keep_alive()  # connect now, not when the first message is urgent
        wait = self.keepalive_s
        while True:
            with self._cond:
                if (self._sending or not self._queue) and not self._closed:
                    self._cond.wait(wait)
                if self._closed:
                    return
                if self._sending:  # a putter is sending; it wakes us if it leaves work
                    continue
                if not self._queue:
                    idle = wait is not None and time.monotonic() - self._last_sent >= wait
                    batch = None
                else:
                    batch = self._take_batch()
            if batch is None:
                if idle:
                    self._keep_alive()
                continue
            self._transmit(batch, inline=False)

    def _take_batch(self) -> list[Any]:
        # Caller holds _cond; the batch is ours to send until _transmit clears _sending.
        self._sending = True
        count = min(len(self._queue), self.max_batch)
        return [self._queue.popleft() for _ in range(count)]

    def _transmit(self, batch: list[Any], *, inline: bool) -> None:
        """Send one batch as one asynchronous call (its answer comes to `_done`)."""
        try:
            payload = [self._encode(message) for message in batch]
            # call_async never blocks to connect (the client's connector does that), but
            # a send can block on a peer that stopped reading: putters send only to a
            # peer that keeps answering.
            future = self._ctx.client(self.peer).call_async(
                self.method, self._ctx.name, payload, timeout=self.rpc_timeout
            )
        except Exception as error:
            with self._lock:
                self._dropped += len(batch)
                self._sending = False
                self._cond.notify()
            self._ctx.log.warning(
                "%s: dropped %d messages to %s: %r", self.method, len(batch), self.peer, error
            )
            return
        with self._lock:
            self._batches += 1
            self._messages += len(batch)
            if not inline:
                self._deferred += len(batch)
            self._in_flight += 1
            self._last_sent = time.monotonic()
            self._sending = False
            if self._queue:
                self._cond.notify()  # what arrived meanwhile goes with the thread
        future.add_done_callback(functools.partial(self._done, len(batch)))

    def _keep_alive(self) -> None:
        # A Raft follower sends nothing for a long time (its replies ride on the leader's
        # RPCs), so its connections to the other followers would be cold when it stands for
        # election: connecting then costs a few ms of handshake, during which the other
        # follower may time out too (a split vote). A cheap ping keeps them open.
        with contextlib.suppress(Exception):  # no connection now: the next message retries
            self._ctx.client(self.peer).call_async("Node.ping", timeout=self.rpc_timeout)
        self._last_sent = time.monotonic()

    def _done(self, messages: int, future: Any) -> None:
        error = future.exception()
        with self._lock:
            self._in_flight -= 1  # before on_reply: what it makes us send may go inline
            if error is not None:
                self._failed += 1
                self._unconfirmed += messages
                # What waits behind a failed call would only arrive stale, after another
                # wait for a connection each; the next message tries again.
                self._dropped += len(self._queue)
                self._queue.clear()
        if error is None:
            self._healthy = True
            answer = future.result()
            if answer and self._on_reply is not None:
                self._on_reply(self.peer, answer)
            return
        if self._healthy:
            self._healthy = False
            self._ctx.log.info(
                "%s: %s unreachable (%s); dropping until it answers", self.method, self.peer, error
            )
