"""Channel: buffering, rendezvous, timeouts, closing, many senders and receivers."""

from __future__ import annotations

import threading

import pytest

from distlab.sync import Channel, ChannelClosed, ChannelTimeout
from tests.sync.helpers import join_all, start, wait_until


def test_buffered_channel_is_fifo_and_blocks_when_full():
    channel: Channel[int] = Channel(capacity=2)
    channel.send(1)
    channel.send(2)
    with pytest.raises(ChannelTimeout, match="full"):
        channel.send(3, timeout=0.02)
    with pytest.raises(ChannelTimeout):
        channel.send_nowait(3)
    assert [channel.recv(), channel.recv()] == [1, 2]
    with pytest.raises(ChannelTimeout, match="nothing sent"):
        channel.recv(timeout=0.02)
    with pytest.raises(ChannelTimeout):
        channel.recv_nowait()
    stats = channel.statistics()
    assert (stats.sent, stats.received, stats.length) == (2, 2, 0)


def test_close_drains_then_raises_and_send_on_closed_raises():
    channel: Channel[str] = Channel(capacity=3)
    channel.send("a")
    channel.send("b")
    channel.close()
    with pytest.raises(ChannelClosed, match="send on closed"):
        channel.send("c")
    assert list(channel) == ["a", "b"]  # buffered items survive close
    with pytest.raises(ChannelClosed, match="closed and drained"):
        channel.recv(timeout=1)
    with pytest.raises(RuntimeError, match="already closed"):
        channel.close()


def test_close_wakes_a_blocked_receiver_and_a_blocked_sender():
    empty: Channel[int] = Channel(capacity=1)
    full: Channel[int] = Channel(capacity=1)
    full.send(0)
    outcomes: list[str] = []

    def receiver() -> None:
        try:
            empty.recv(timeout=10)
        except ChannelClosed:
            outcomes.append("receiver saw close")

    def sender() -> None:
        try:
            full.send(1, timeout=10)
        except ChannelClosed:
            outcomes.append("sender saw close")

    threads = [start(receiver), start(sender)]
    wait_until(lambda: empty.statistics().waiting_receivers == 1)
    wait_until(lambda: full.statistics().waiting_senders == 1)
    empty.close()
    full.close()
    join_all(threads)
    assert sorted(outcomes) == ["receiver saw close", "sender saw close"]
    assert full.recv() == 0 and len(full) == 0  # the blocked item was never added


def test_unbuffered_send_waits_for_a_receiver():
    channel: Channel[int] = Channel()  # capacity 0: rendezvous
    sent = threading.Event()

    def sender() -> None:
        channel.send(42, timeout=10)
        sent.set()

    thread = start(sender)
    wait_until(lambda: channel.statistics().waiting_senders == 1)  # it is inside send, waiting
    assert not sent.is_set(), "send returned before anyone received"
    assert channel.recv(timeout=10) == 42
    join_all([thread])
    assert sent.is_set()


def test_unbuffered_send_nowait_without_receiver_is_withdrawn():
    channel: Channel[int] = Channel()
    with pytest.raises(ChannelTimeout, match="no receiver"):
        channel.send_nowait(1)
    with pytest.raises(ChannelTimeout):
        channel.send(2, timeout=0.02)
    with pytest.raises(ChannelTimeout):
        channel.recv_nowait()  # neither item stayed behind
    assert channel.statistics().sent == 0


def test_unbuffered_send_nowait_succeeds_when_a_receiver_is_waiting():
    channel: Channel[int] = Channel()
    got: list[int] = []
    thread = start(lambda: got.append(channel.recv(timeout=10)))
    wait_until(lambda: channel._waiting_receivers == 1)
    channel.send_nowait(7)
    join_all([thread])
    assert got == [7]


def test_blocked_unbuffered_sender_sees_close():
    channel: Channel[int] = Channel()
    errors: list[BaseException] = []

    def sender() -> None:
        try:
            channel.send(1, timeout=10)
        except ChannelClosed as error:
            errors.append(error)

    thread = start(sender)
    wait_until(lambda: len(channel) == 1)
    channel.close()
    join_all([thread])
    assert len(errors) == 1
    with pytest.raises(ChannelClosed):
        channel.recv_nowait()  # the undelivered item was withdrawn


@pytest.mark.parametrize("capacity", [0, 1, 8])
def test_every_item_is_received_exactly_once(capacity: int):
    channel: Channel[int] = Channel(capacity)
    received: list[int] = []
    guard = threading.Lock()

    def producer(base: int) -> None:
        for i in range(300):
            channel.send(base + i, timeout=15)

    def consumer() -> None:
        for item in channel:
            with guard:
                received.append(item)

    producers = [start(producer, 1000 * p) for p in range(4)]
    consumers = [start(consumer) for _ in range(3)]
    join_all(producers)
    channel.close()
    join_all(consumers)
    assert sorted(received) == sorted(1000 * p + i for p in range(4) for i in range(300))


def test_negative_capacity_and_timeout_are_rejected():
    with pytest.raises(ValueError):
        Channel(-1)
    with pytest.raises(ValueError):
        Channel(1).recv(timeout=-1)
