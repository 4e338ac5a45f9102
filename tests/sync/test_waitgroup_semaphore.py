"""WaitGroup and Semaphore: counting, waiting, misuse."""

from __future__ import annotations

import threading
import time

import pytest

from distlab.sync import Semaphore, WaitGroup
from tests.sync.helpers import join_all, start


def test_waitgroup_waits_for_every_worker():
    group = WaitGroup()
    finished = []

    def worker(i: int) -> None:
        time.sleep(0.001 * (i % 5))
        finished.append(i)
        group.done()

    group.add(20)
    threads = [start(worker, i) for i in range(20)]
    assert group.wait(timeout=20) is True
    assert len(finished) == 20  # wait returned only after every done()
    join_all(threads)


def test_waitgroup_negative_counter_raises():
    group = WaitGroup()
    group.add(1)
    group.done()
    with pytest.raises(RuntimeError, match="negative"):
        group.done()
    assert group.count == 0


def test_waitgroup_wait_times_out_and_zero_returns_at_once():
    group = WaitGroup()
    assert group.wait(timeout=0) is True
    group.add(2)
    assert group.wait(timeout=0.02) is False
    group.add(-2)
    assert group.wait(timeout=0) is True


def test_semaphore_bounds_concurrency():
    semaphore = Semaphore(3)
    inside = {"now": 0, "max": 0}
    guard = threading.Lock()

    def worker() -> None:
        with semaphore:
            with guard:
                inside["now"] += 1
                inside["max"] = max(inside["max"], inside["now"])
            time.sleep(0.01)
            with guard:
                inside["now"] -= 1

    join_all([start(worker) for _ in range(12)])
    assert inside["max"] == 3
    assert semaphore.value == 3


def test_semaphore_timeout_and_bounded_release():
    semaphore = Semaphore(1, max_value=1)
    assert semaphore.acquire(timeout=0) is True
    assert semaphore.acquire(timeout=0.02) is False
    semaphore.release()
    with pytest.raises(RuntimeError, match="max_value"):
        semaphore.release()
    with pytest.raises(ValueError):
        Semaphore(-1)


def test_semaphore_release_from_another_thread_wakes_a_waiter():
    semaphore = Semaphore(0)
    got = []
    thread = start(lambda: got.append(semaphore.acquire(timeout=10)))
    time.sleep(0.02)
    assert got == []
    semaphore.release()
    join_all([thread])
    assert got == [True]
