"""Mutex: mutual exclusion, owner checks, timeouts, statistics."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from distlab.sync import LockTimeout, Mutex
from tests.sync.helpers import join_all, start, wait_until


def test_many_threads_never_overlap_in_the_critical_section():
    mutex = Mutex("counter")
    state = {"value": 0, "inside": 0, "max_inside": 0}

    def work() -> None:
        for _ in range(200):
            with mutex:
                state["inside"] += 1
                state["max_inside"] = max(state["max_inside"], state["inside"])
                value = state["value"]
                time.sleep(0)  # invite a switch in the middle of read-modify-write
                state["value"] = value + 1
                state["inside"] -= 1

    join_all([start(work) for _ in range(8)])
    assert state["value"] == 8 * 200
    assert state["max_inside"] == 1
    assert mutex.statistics().acquisitions == 8 * 200


def test_release_by_a_thread_that_does_not_hold_it_raises():
    mutex = Mutex("balance")
    mutex.acquire()
    errors: list[BaseException] = []

    def intruder() -> None:
        try:
            mutex.release()
        except RuntimeError as error:
            errors.append(error)

    join_all([start(intruder)])
    assert len(errors) == 1
    assert "does not hold" in str(errors[0]) and "'balance'" in str(errors[0])
    assert mutex.locked() and mutex.held_by_current_thread()  # still ours
    mutex.release()


def test_release_of_an_unlocked_mutex_raises():
    with pytest.raises(RuntimeError, match="not locked"):
        Mutex("m").release()


def test_second_acquire_by_the_owner_raises_instead_of_deadlocking():
    mutex = Mutex("m")
    with mutex, pytest.raises(RuntimeError, match="not reentrant"):
        mutex.acquire(timeout=5)


def test_acquire_times_out_while_another_thread_holds_it():
    mutex = Mutex("m")
    held, finish = threading.Event(), threading.Event()

    def holder() -> None:
        with mutex:
            held.set()
            finish.wait(10)

    thread = start(holder)
    assert held.wait(10)
    started = time.monotonic()
    assert mutex.acquire(timeout=0.05) is False
    assert time.monotonic() - started >= 0.04
    assert mutex.acquire(timeout=0) is False
    with pytest.raises(LockTimeout, match="'m'"), mutex.hold(timeout=0.01):
        pass
    assert mutex.statistics().timeouts == 3
    finish.set()
    join_all([thread])
    assert mutex.acquire(timeout=0) is True
    mutex.release()


def test_statistics_count_contention_and_waiting_time():
    mutex = Mutex()
    with mutex:
        pass
    assert mutex.statistics().contended_acquisitions == 0
    held, got_it = threading.Event(), threading.Event()

    def waiter() -> None:
        held.wait(10)
        with mutex:
            got_it.set()

    with mutex:
        thread = start(waiter)
        held.set()
        wait_until(lambda: mutex.statistics().waiting == 1)  # the waiter is blocked on us
    join_all([thread])
    assert got_it.is_set()
    stats = mutex.statistics()
    assert stats.acquisitions == 3
    assert stats.contended_acquisitions == 1
    assert 0 < stats.max_wait_seconds <= stats.total_wait_seconds
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.acquisitions = 0  # type: ignore[misc]


def test_context_manager_releases_on_exception_and_names_default():
    mutex = Mutex()
    assert mutex.name.startswith("Mutex#")
    with pytest.raises(ValueError), mutex:
        raise ValueError("boom")
    assert not mutex.locked()


def test_waiting_thread_gets_the_mutex_when_released():
    mutex = Mutex()
    mutex.acquire()
    acquired = threading.Event()
    thread = start(lambda: acquired.set() if mutex.acquire(timeout=10) else None)
    wait_until(lambda: mutex.statistics().waiting == 1)
    assert not acquired.is_set()
    mutex.release()
    wait_until(acquired.is_set)
    join_all([thread])
