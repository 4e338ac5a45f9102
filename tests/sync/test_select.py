"""select: readiness, timeouts, closed channels, fairness, seeding."""

from __future__ import annotations

import random
import threading
import time

import pytest

from distlab.sync import Channel, ChannelTimeout, select
from tests.sync.helpers import join_all, start


def test_select_returns_the_ready_channel():
    a: Channel[str] = Channel(1)
    b: Channel[str] = Channel(1)
    b.send("from b")
    chosen = select([a, b], timeout=1)
    assert (chosen.index, chosen.value, chosen.ok) == (1, "from b", True)


def test_select_times_out_and_zero_timeout_is_default_case():
    a: Channel[int] = Channel(1)
    with pytest.raises(ChannelTimeout, match="select"):
        select([a, Channel(1)], timeout=0.03)
    with pytest.raises(ChannelTimeout):
        select([a], timeout=0)


def test_select_wakes_when_a_send_arrives_later():
    a: Channel[int] = Channel(1)
    b: Channel[int] = Channel(1)

    def late() -> None:
        time.sleep(0.05)
        b.send(9)

    thread = start(late)
    chosen = select([a, b], timeout=10)
    join_all([thread])
    assert (chosen.index, chosen.value) == (1, 9)


def test_select_receives_from_an_unbuffered_sender():
    a: Channel[int] = Channel()
    thread = start(lambda: a.send(5, timeout=10))
    chosen = select([Channel(1), a], timeout=10)
    join_all([thread])
    assert (chosen.index, chosen.value) == (1, 5)


def test_closed_drained_channel_is_ready_with_ok_false():
    a: Channel[int] = Channel(1)
    a.close()
    chosen = select([Channel(1), a], timeout=1)
    assert (chosen.index, chosen.value, chosen.ok) == (1, None, False)


def test_select_chooses_fairly_among_ready_channels():
    a: Channel[int] = Channel(400)
    b: Channel[int] = Channel(400)
    for i in range(200):
        a.send(i)
        b.send(i)
    rng = random.Random(3)
    picks = [select([a, b], timeout=1, rng=rng).index for _ in range(200)]
    # Always picking the first ready channel would give 200/0.
    assert 60 <= picks.count(0) <= 140


def test_select_with_the_same_seed_makes_the_same_choices():
    def run(rng: random.Random | int) -> list[int]:
        channels: list[Channel[int]] = [Channel(50) for _ in range(3)]
        for channel in channels:
            for i in range(50):
                channel.send(i)
        return [select(channels, timeout=1, rng=rng).index for _ in range(30)]

    assert run(random.Random(7)) == run(random.Random(7))
    assert run(random.Random(7)) != run(random.Random(8))
    assert len(set(run(5))) == 1  # an int seed: a fresh Random(5) per call, same choice


def test_select_needs_a_channel():
    with pytest.raises(ValueError):
        select([])


def test_many_senders_and_selecting_receivers_deliver_each_item_once():
    channels: list[Channel[int]] = [Channel(0), Channel(0), Channel(2)]
    received: list[int] = []
    guard = threading.Lock()

    def sender(index: int) -> None:
        for i in range(200):
            channels[index].send(1000 * index + i, timeout=15)
        channels[index].close()

    def receiver(seed: int) -> None:
        rng = random.Random(seed)
        open_channels = list(channels)
        while open_channels:
            chosen = select(open_channels, timeout=15, rng=rng)
            if not chosen.ok:
                open_channels.pop(chosen.index)  # this one is closed and drained
                continue
            with guard:
                received.append(chosen.value)

    threads = [start(sender, i) for i in range(3)] + [start(receiver, s) for s in range(2)]
    join_all(threads)
    assert sorted(received) == sorted(1000 * c + i for c in range(3) for i in range(200))
