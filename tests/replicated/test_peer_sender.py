"""PeerSender, as Raft uses it: sends from the caller's thread while the peer keeps up,
queues otherwise."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from distlab.cluster.peer_sender import PeerSender
from distlab.raft import InstallSnapshot, RequestVote, codec
from distlab.replicated.transport import raft_sender


class FakeClient:
    """Records each Raft.step batch with the thread that sent it; answers on demand."""

    def __init__(self) -> None:
        self.connected = True
        self.sent: list[tuple[str, list[Any]]] = []
        self.futures: list[Future] = []
        self.arrived = threading.Condition()

    def call_async(self, method: str, *args: Any, timeout: float) -> Future:
        future: Future = Future()
        if method == "Raft.step":
            with self.arrived:
                self.sent.append((threading.current_thread().name, args[1]))
                self.futures.append(future)
                self.arrived.notify_all()
        return future

    def wait_sent(self, count: int) -> None:
        with self.arrived:
            assert self.arrived.wait_for(lambda: len(self.sent) >= count, timeout=10.0), self.sent


class FakeContext:
    name = "n0"
    log = logging.getLogger("test-peer-sender")

    def __init__(self) -> None:
        self.peer = FakeClient()

    def client(self, peer: str) -> FakeClient:
        return self.peer


def vote(term: int) -> RequestVote:
    return RequestVote(term, "n0", 0, 0)


def terms(batch: list[Any]) -> list[int]:
    return [codec.decode(message).term for message in batch]


def wait_messages_sent(sender: PeerSender, count: int) -> None:
    deadline = time.monotonic() + 10.0
    while sender.statistics().messages_sent < count:
        assert time.monotonic() < deadline, sender.statistics()
        time.sleep(0.01)


@pytest.fixture
def sender_to_n1() -> Iterator[tuple[PeerSender, FakeClient]]:
    ctx = FakeContext()
    sender = raft_sender(ctx, "n1", keepalive_s=60.0)
    try:
        yield sender, ctx.peer
    finally:
        sender.close()


def test_caller_sends_while_the_peer_keeps_up_and_the_thread_takes_over_when_it_lags(
    sender_to_n1: tuple[PeerSender, FakeClient],
) -> None:
    (sender, peer), me = sender_to_n1, threading.current_thread().name
    sender.put([vote(1)])
    sender.put([vote(2)])  # one call unanswered: the caller still sends
    peer.wait_sent(2)
    assert [(thread, terms(batch)) for thread, batch in peer.sent] == [(me, [1]), (me, [2])]
    # Two calls unanswered: the next batches go through the sender thread, in order.
    sender.put([vote(3)])
    sender.put([vote(4)])
    wait_messages_sent(sender, 4)
    assert [term for _, batch in peer.sent[2:] for term in terms(batch)] == [3, 4]
    assert all(thread == "raft-send-n0-n1" for thread, _ in peer.sent[2:])
    # Every call answered: the caller sends again.
    for future in list(peer.futures):
        future.set_result([])
    count = len(peer.sent)
    sender.put([vote(5)])
    peer.wait_sent(count + 1)
    assert peer.sent[-1][0] == me and terms(peer.sent[-1][1]) == [5]
    stats = sender.statistics()
    assert stats.batches_sent == len(peer.sent) and stats.batches_sent_inline == 3
    assert stats.messages_sent == 5


def test_after_a_failed_call_or_without_a_connection_only_the_thread_sends(
    sender_to_n1: tuple[PeerSender, FakeClient],
) -> None:
    (sender, peer), me = sender_to_n1, threading.current_thread().name
    sender.put([vote(1)])
    peer.wait_sent(1)
    peer.futures[0].set_exception(TimeoutError("no answer"))  # a frozen peer, say
    sender.put([vote(2)])
    peer.wait_sent(2)
    assert peer.sent[1][0] != me
    peer.futures[1].set_result([])  # it answers again: back to the fast path
    sender.put([vote(3)])
    peer.wait_sent(3)
    assert peer.sent[2][0] == me
    peer.futures[2].set_result([])
    peer.connected = False  # connecting may block: never in the caller's thread
    sender.put([vote(4)])
    peer.wait_sent(4)
    assert peer.sent[3][0] != me
    peer.connected = True
    peer.futures[3].set_result([])
    snapshot = InstallSnapshot(5, "n0", 9, 5, b"x" * 10)  # may be large: thread only
    sender.put([snapshot])
    peer.wait_sent(5)
    assert peer.sent[4][0] != me
    assert sender.statistics().calls_failed == 1


def test_many_putting_threads_keep_per_peer_order(
    sender_to_n1: tuple[PeerSender, FakeClient],
) -> None:
    sender, peer = sender_to_n1
    lock = threading.Lock()
    next_term = iter(range(1, 10_000))

    def answer_all() -> None:
        while not stop.is_set():
            for future in list(peer.futures):
                if not future.done():
                    future.set_result([])
            time.sleep(0.0005)

    def putter() -> None:
        for _ in range(200):
            with lock:  # terms are handed out and queued in one step, so order is defined
                sender.put([vote(next(next_term))])

    stop = threading.Event()
    answering = threading.Thread(target=answer_all)
    answering.start()
    try:
        putters = [threading.Thread(target=putter) for _ in range(4)]
        for thread in putters:
            thread.start()
        for thread in putters:
            thread.join()
        peer.wait_sent(1)
        wait_messages_sent(sender, 800)
        sent = [term for _, batch in peer.sent for term in terms(batch)]
        assert sent == list(range(1, 801))
        assert 0 < sender.statistics().batches_sent_inline < sender.statistics().batches_sent
    finally:
        stop.set()
        answering.join()


def sender_thread_parked(sender: PeerSender) -> bool:
    """Is the sender thread asleep in its condition wait (woken only by a notify, or after
    ``keepalive_s``)? `Condition.notify` takes a waiter off this list before it returns,
    so "still parked" right after a call proves the call woke nobody: no waiting needed."""
    with sender._cond:
        return len(sender._cond._waiters) == 1  # type: ignore[attr-defined]


def test_queued_without_sending_until_flushed(sender_to_n1: tuple[PeerSender, FakeClient]) -> None:
    # A driver queues under its role and flushes after giving it up (RaftPeer._drive).
    sender, peer = sender_to_n1
    me = threading.current_thread().name
    # The thread's first loop drains whatever is queued: queue only once it sleeps
    # (keepalive_s is 60 s, so it sleeps until something wakes it).
    deadline = time.monotonic() + 10.0
    while not sender_thread_parked(sender):
        assert time.monotonic() < deadline, "the sender thread never went to sleep"
        time.sleep(0.001)
    sender.put([vote(1)], send=False)
    sender.put([vote(2)], send=False)
    # Checked at once: nothing left from this thread, and the sender thread was not woken,
    # so it cannot take the messages before the flush either.
    assert peer.sent == [] and sender.statistics().queued == 2
    assert sender_thread_parked(sender)
    sender.flush()
    # Both messages were still queued: one batch, sent inline by this thread.
    assert peer.sent == [(me, peer.sent[0][1])] and terms(peer.sent[0][1]) == [1, 2]
    assert sender.statistics().queued == 0
    sender.flush()  # nothing queued: nothing sent
    assert len(peer.sent) == 1
