"""DelayLine: delayed actions on one thread; answered calls take their deadlines with them."""

from __future__ import annotations

import threading
import time

from distlab.rpc import Client, RpcTimeout, Server
from distlab.rpc.delay_line import DelayLine
from tests.rpc.helpers import Echo


def test_actions_run_in_due_order_and_cancelled_ones_never_run() -> None:
    line = DelayLine("test-line")
    ran: list[str] = []
    done = threading.Event()
    try:
        first = line.schedule(0.05, ran.append, "first")
        second = line.schedule(0.06, ran.append, "second")
        line.schedule(0.02, ran.append, "soonest")
        line.schedule(0.08, done.set)
        assert first and second and line.queued() == 4
        line.cancel(second)  # not at the front: stays queued, but will not run
        assert line.queued() == 4
        assert done.wait(10.0)
        assert ran == ["soonest", "first"]
        assert line.queued() == 0
    finally:
        line.close()
    assert line.schedule(0.01, ran.append, "late") is None


def test_cancelling_the_front_drops_it_and_every_cancelled_timer_behind_it() -> None:
    line = DelayLine("test-line")
    try:
        timers = [line.schedule(60.0 + i, print, i) for i in range(3)]
        line.cancel(timers[1])
        assert line.queued() == 3
        line.cancel(timers[0])  # the front: dropped, and timers[1] behind it too
        assert line.queued() == 1
        line.cancel(timers[2])
        line.cancel(timers[2])  # twice is harmless
        assert line.queued() == 0
    finally:
        line.close()


def test_a_timer_due_after_the_next_wakeup_does_not_wake_the_thread() -> None:
    line = DelayLine("test-line")
    ran = threading.Event()
    try:
        far = line.schedule(60.0, ran.set)
        deadline = time.monotonic() + 10.0
        while line._wakes_at != far.entry[0]:  # wait until the thread sleeps until then
            assert time.monotonic() < deadline
            time.sleep(0.001)
        line.cancel(far)  # the queue is empty now, but the thread still sleeps until then
        signalled = line.signals
        for i in range(100):  # a call's deadline, answered at once: scheduled, cancelled
            timer = line.schedule(61.0 + i, ran.set)
            assert timer is not None
            line.cancel(timer)
        assert line.signals == signalled  # the thread slept through all of them
        line.schedule(0.01, ran.set)  # sooner than it would wake: it is woken for this one
        assert ran.wait(10.0)
        assert line.signals == signalled + 1
    finally:
        line.close()


def test_answered_async_calls_leave_no_deadlines_behind_but_unanswered_ones_expire() -> None:
    server = Server(name="n1").start()
    server.register(Echo())
    try:
        with Client(server.address) as client:
            futures = [client.call_async("Echo.add", i, 1, timeout=30) for i in range(300)]
            assert [f.result(20) for f in futures] == [i + 1 for i in range(300)]
            # 300 deadlines 30 s away would otherwise each wake the timer thread once.
            deadline = time.monotonic() + 10.0
            while client._delay_line.queued() > 1:
                assert time.monotonic() < deadline, client._delay_line.queued()
                time.sleep(0.01)
            server.policy.set(drop_reply=1.0)
            error = client.call_async("Echo.echo", "x", timeout=0.2).exception(20)
            assert isinstance(error, RpcTimeout) and not error.definite
    finally:
        server.close()
