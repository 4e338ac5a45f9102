"""Cond: waits need the mutex, timeouts, notify wakes exactly the right number."""

from __future__ import annotations

import threading
from collections import deque

import pytest

from distlab.sync import Cond, Mutex
from tests.sync.helpers import join_all, start, wait_until


def test_wait_and_notify_without_holding_the_mutex_raise():
    cond = Cond(Mutex("queue"))
    with pytest.raises(RuntimeError, match="without holding its mutex 'queue'"):
        cond.wait(timeout=0.01)
    with pytest.raises(RuntimeError, match="without holding"):
        cond.notify()
    with pytest.raises(RuntimeError, match="without holding"):
        cond.notify_all()


def test_cond_requires_a_distlab_mutex():
    with pytest.raises(TypeError):
        Cond(threading.Lock())  # type: ignore[arg-type]


def test_wait_times_out_and_returns_holding_the_mutex():
    mutex = Mutex()
    cond = Cond(mutex)
    with mutex:
        assert cond.wait(timeout=0.02) is False
        assert mutex.held_by_current_thread()
        assert cond.wait_for(lambda: False, timeout=0.02) is False


def test_wait_releases_the_mutex_while_sleeping():
    mutex = Mutex()
    cond = Cond(mutex)
    ready = []

    def setter() -> None:
        with mutex:  # only possible if the waiter released it
            ready.append(True)
            cond.notify()

    with mutex:
        thread = start(setter)
        assert cond.wait_for(lambda: ready, timeout=10)
    join_all([thread])


def test_notify_wakes_one_and_notify_all_wakes_the_rest():
    mutex = Mutex()
    cond = Cond(mutex)
    woken = []
    waiting = []

    def waiter(i: int) -> None:
        with mutex:
            waiting.append(i)
            if cond.wait(timeout=15):
                woken.append(i)

    threads = [start(waiter, i) for i in range(3)]
    wait_until(lambda: len(waiting) == 3)
    with mutex:
        cond.notify()
    wait_until(lambda: len(woken) == 1)
    with mutex:
        assert len(woken) == 1  # the other two are still asleep
        cond.notify_all()
    join_all(threads)
    assert sorted(woken) == [0, 1, 2]


def test_bounded_queue_with_many_producers_and_consumers():
    mutex = Mutex("queue")
    not_empty, not_full = Cond(mutex), Cond(mutex)
    queue: deque[int] = deque()
    received: list[int] = []

    def producer(base: int) -> None:
        for i in range(250):
            with mutex:
                assert not_full.wait_for(lambda: len(queue) < 3, timeout=15)
                queue.append(base + i)
                not_empty.notify()

    def consumer() -> None:
        for _ in range(250):
            with mutex:
                assert not_empty.wait_for(lambda: queue, timeout=15)
                received.append(queue.popleft())
                not_full.notify()

    threads = [start(producer, 1000 * p) for p in range(4)] + [start(consumer) for _ in range(4)]
    join_all(threads)
    assert sorted(received) == sorted(1000 * p + i for p in range(4) for i in range(250))
