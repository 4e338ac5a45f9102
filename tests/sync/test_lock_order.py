"""Lock-order checking: inverted orders raise before any hang; held-lock warnings."""

from __future__ import annotations

import threading
import warnings

import pytest

from distlab.sync import (
    Cond,
    HeldAcrossBlockingCall,
    Mutex,
    PotentialDeadlock,
    RWLock,
    disable_lock_order_checking,
    enable_lock_order_checking,
    held_lock_names,
    lock_order_checking,
    lock_order_checking_enabled,
    lock_order_edges,
    warn_if_locks_held,
)
from distlab.sync import lock_order as lock_order_module
from tests.sync.helpers import join_all, start


@pytest.fixture(autouse=True)
def checking_off_afterwards():
    yield
    disable_lock_order_checking()


def in_thread(body) -> list[BaseException]:
    """Run ``body`` in a fresh thread (with a deadline); return what it raised."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            body()
        except Exception as error:
            errors.append(error)

    join_all([start(run)], timeout=10)
    return errors


def test_inverted_order_raises_the_first_time_without_a_hang():
    a, b = Mutex("A"), Mutex("B")

    def a_then_b() -> None:
        with a, b:
            pass

    def b_then_a() -> None:
        with b, a:
            pass

    with lock_order_checking():
        assert in_thread(a_then_b) == []  # thread 1 finishes: no deadlock happened
        errors = in_thread(b_then_a)  # thread 2, later: the cycle is reported at once
    assert len(errors) == 1 and isinstance(errors[0], PotentialDeadlock)
    error = errors[0]
    assert error.lock_names == ("B", "A")
    message = str(error)
    assert "'A'" in message and "'B'" in message
    # Both code locations: this acquisition and the earlier opposite one.
    assert message.count("test_lock_order.py:") == 4
    assert error.location != error.earlier[0].acquired_location
    assert not a.locked() and not b.locked()  # nothing left held after the error


def test_consistent_order_from_many_threads_never_raises():
    a, b, c = Mutex("A"), Mutex("B"), Mutex("C")

    def worker() -> None:
        for _ in range(50):
            with a, b, c:
                pass

    with lock_order_checking():
        errors = []
        threads = [start(lambda: errors.extend(in_thread(worker))) for _ in range(4)]
        join_all(threads)
        assert errors == []
        pairs = {(edge.held, edge.acquired) for edge in lock_order_edges()}
    assert pairs == {("A", "B"), ("A", "C"), ("B", "C")}


def test_a_three_lock_cycle_is_caught():
    a, b, c = Mutex("A"), Mutex("B"), Mutex("C")
    with lock_order_checking():
        with a, b:
            pass
        with b, c:
            pass
        with c, pytest.raises(PotentialDeadlock) as caught:
            a.acquire()
    assert [(e.held, e.acquired) for e in caught.value.earlier] == [("A", "B"), ("B", "C")]


def test_checking_is_off_by_default_and_costs_no_bookkeeping(monkeypatch):
    assert not lock_order_checking_enabled()

    def must_not_run(*args, **kwargs):
        raise AssertionError("lock-order hook called while checking is off")

    monkeypatch.setattr(lock_order_module, "before_acquire", must_not_run)
    monkeypatch.setattr(lock_order_module, "after_acquire", must_not_run)
    monkeypatch.setattr(lock_order_module, "after_release", must_not_run)
    a, b = Mutex("A"), Mutex("B")
    with a, b:
        pass
    with b, a:  # inverted, but nobody is watching
        pass
    rw = RWLock()
    with rw.read():
        pass
    with rw.write():
        pass


def test_context_manager_restores_the_previous_setting():
    with lock_order_checking():
        assert lock_order_checking_enabled()
    assert not lock_order_checking_enabled()
    enable_lock_order_checking()
    with lock_order_checking():
        pass
    assert lock_order_checking_enabled()


def test_enable_starts_with_an_empty_graph():
    a, b = Mutex("A"), Mutex("B")
    with lock_order_checking(), a, b:
        pass
    with lock_order_checking():
        assert lock_order_edges() == []
        with b, a:  # not an inversion of anything recorded in *this* session
            pass


def test_try_acquire_adds_no_order():
    a, b = Mutex("A"), Mutex("B")
    with lock_order_checking():
        with a:
            assert b.acquire(timeout=0)
            b.release()
        assert lock_order_edges() == []


def test_rwlock_takes_part_in_lock_order_checking():
    table, row = RWLock("table"), Mutex("row")
    with lock_order_checking():
        with table.read(), row:
            pass
        with row, pytest.raises(PotentialDeadlock, match="'table'"):
            table.acquire_write()


def test_cond_wait_keeps_the_held_set_right():
    mutex = Mutex("queue")
    cond = Cond(mutex)
    with lock_order_checking(), mutex:
        assert held_lock_names() == ["queue"]
        cond.wait(timeout=0.01)
        assert held_lock_names() == ["queue"]
    assert held_lock_names() == []


def test_warn_if_locks_held_names_the_locks_and_the_call():
    mutex = Mutex("raft state")
    with lock_order_checking():
        with mutex, pytest.warns(HeldAcrossBlockingCall, match=r"RPC Raft\.vote.*'raft state'"):
            warn_if_locks_held("RPC Raft.vote")
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warn_if_locks_held("RPC Raft.vote")  # nothing held: no warning


def test_warn_if_locks_held_is_silent_when_checking_is_off():
    mutex = Mutex("raft state")
    with mutex, warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_if_locks_held("RPC Raft.vote")


def test_held_locks_are_per_thread():
    mutex = Mutex("mine")
    seen: list[list[str]] = []
    with lock_order_checking(), mutex:
        thread = threading.Thread(target=lambda: seen.append(held_lock_names()))
        thread.start()
        thread.join(10)
    assert seen == [[]]


def test_locations_name_the_learners_code_even_through_context_managers():
    table, row = RWLock("table"), Mutex("row")
    with lock_order_checking():
        with table.read(), row.hold(timeout=5):
            pass
        (edge,) = lock_order_edges()
    assert "test_lock_order.py:" in edge.held_location
    assert "test_lock_order.py:" in edge.acquired_location


def test_cond_wait_reacquire_never_raises_and_keeps_the_original_location():
    mutex, other = Mutex("queue"), Mutex("other")
    cond = Cond(mutex)
    with lock_order_checking(), mutex:
        location = lock_order_module.held_location(mutex)
        with other:  # records queue -> other
            # wait() re-takes `queue` while `other` is held: a naive re-check would
            # raise here and return without the mutex.
            assert cond.wait(timeout=0.01) is False
            assert mutex.held_by_current_thread()
            assert lock_order_module.held_location(mutex) == location
            assert held_lock_names() == ["other", "queue"]
