"""A single timer thread that runs small actions later: delayed sends and call deadlines.

The fault policy decides *that* a message is delayed; the DelayLine does the waiting,
so no thread is created per message or per call. Actions must be quick and must not
block (a send on a socket, failing a future).

Most call deadlines never fire: the reply comes first. ``cancel`` forgets such a timer and
drops cancelled timers from the front of the queue at once. And ``schedule`` wakes the thread
only when the new timer is due before the thread would wake anyway: a stream of calls, each
with a deadline a second away, wakes it about once a second instead of once per call (at a
thousand calls a second those wake-ups would compete with the calls themselves for the
interpreter, and each one costs the calling thread a system call).

What it must never do: run an action after ``close()`` returns, or let an exception from
one action stop the others. Where it fits: owned by a Client or a Server.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("distlab.rpc")


class Timer:
    """A scheduled action, for `DelayLine.cancel`."""

    __slots__ = ("entry",)

    def __init__(self, entry: list[Any]) -> None:
        self.entry = entry


class DelayLine:
    """Runs ``action(*args)`` after a delay, on one lazily started daemon thread."""

    def __init__(self, name: str = "rpc-delay-line") -> None:
        self._name = name
        # Entries are [due, sequence, action, args]; a cancelled entry's action is None.
        self._heap: list[list[Any]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        # When the sleeping thread wakes by itself: -inf while it is awake (it looks at the
        # queue before it sleeps again), +inf while it waits for a first timer.
        self._wakes_at = -math.inf
        self.signals = 0  # times a new timer woke the sleeping thread (for tests, the curious)

    def schedule(self, delay_s: float, action: Callable[..., Any], *args: Any) -> Timer | None:
        """Run ``action(*args)`` in ``delay_s`` seconds.

        Returns a handle for `cancel` (truthy), or None -- and nothing will run -- after close.
        """
        due = time.monotonic() + delay_s
        entry = [due, next(self._counter), action, args]
        with self._cond:
            if self._closed:
                return None
            heapq.heappush(self._heap, entry)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif due < self._wakes_at:
                self.signals += 1
                self._cond.notify()
        return Timer(entry)

    def cancel(self, timer: Timer) -> None:
        """Forget ``timer``: its action will not run, unless it is due and already being run
        (so an action must tolerate running after a cancel, as a deadline check does)."""
        with self._cond:
            timer.entry[2] = None
            self._drop_cancelled_front()

    def _drop_cancelled_front(self) -> None:
        # Caller holds _cond. Only the front is cheap to drop; cancelled timers deeper in
        # the heap go when they reach it (so the thread never sleeps until a moot deadline).
        heap = self._heap
        while heap and heap[0][2] is None:
            heapq.heappop(heap)

    def queued(self) -> int:
        """Timers held: not yet run, including cancelled ones not yet at the front."""
        with self._cond:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    self._drop_cancelled_front()
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._wakes_at = self._heap[0][0]
                        self._cond.wait(wait)
                    else:
                        self._wakes_at = math.inf
                        self._cond.wait()
                    self._wakes_at = -math.inf
                if self._closed:
                    return
                _, _, action, args = heapq.heappop(self._heap)
            if action is None:  # cancelled
                continue
            try:
                action(*args)
            except Exception:  # one failing action must not stop the line
                log.exception("delayed action %r failed", action)

    def close(self) -> None:
        """Drop pending actions and join the thread."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
