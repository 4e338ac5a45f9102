"""Cond: a condition variable bound to a Mutex (Go's sync.Cond, Python's Condition).

A thread that needs some shared state to change (a queue to become non-empty, a
vote count to reach a majority) holds the Mutex, checks the state, and if it is
not ready calls `wait()`. `wait()` releases the Mutex and sleeps *atomically*,
so a `notify()` from another thread in between cannot be lost; on waking it
re-acquires the Mutex before returning. Always re-check the condition in a loop
(or use `wait_for`): a wake-up means "look again", not "it is true now".

What it must never do: let a thread wait or notify without holding the Mutex
(that is how wake-ups get lost), or return from `wait` without the Mutex held.

It sits on top of `Mutex`; Raft's apply loop and the RPC server's reply
bookkeeping use it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from . import lock_order as _lock_order
from .mutex import Mutex

__all__ = ["Cond"]

T = TypeVar("T")


class Cond:
    """A condition variable: ``wait`` / ``notify`` / ``notify_all`` under a bound Mutex."""

    def __init__(self, mutex: Mutex) -> None:
        if not isinstance(mutex, Mutex):
            raise TypeError(f"Cond needs a distlab Mutex, not {type(mutex).__name__}")
        self._mutex = mutex
        # One private lock per waiting thread, as CPython's Condition does:
        # notify releases it. The deque is protected by the bound Mutex.
        self._waiters: deque[threading.Lock] = deque()

    @property
    def mutex(self) -> Mutex:
        """The Mutex this condition is bound to."""
        return self._mutex

    def _require_held(self, operation: str) -> None:
        if not self._mutex.held_by_current_thread():
            raise RuntimeError(
                f"{operation} on a Cond without holding its mutex {self._mutex.name!r}: "
                f"acquire the mutex first (otherwise a notify can slip in and be lost)"
            )

    def wait(self, timeout: float | None = None) -> bool:
        """Release the mutex, sleep until notified (or ``timeout`` s pass), re-acquire.

        Returns True if woken by a notify, False on timeout. The mutex is held
        again on return either way.
        """
        self._require_held("wait()")
        waiter = threading.Lock()
        waiter.acquire()
        self._waiters.append(waiter)
        location = None
        if _lock_order._state.enabled:
            location = _lock_order.held_location(self._mutex) or _lock_order.caller_location()
        self._mutex.release()
        try:
            if timeout is None:
                notified = waiter.acquire()
            elif timeout > 0:
                notified = waiter.acquire(timeout=timeout)
            else:
                notified = waiter.acquire(blocking=False)
        finally:
            self._mutex._reacquire_after_wait(location)
        if not notified:
            # Timed out, but a notify may have raced in after the timeout: then the
            # waiter is no longer queued and that notify was delivered to us.
            try:
                self._waiters.remove(waiter)
            except ValueError:
                notified = True
        return notified

    def wait_for(self, predicate: Callable[[], T], timeout: float | None = None) -> T:
        """Wait until ``predicate()`` is truthy or ``timeout`` s pass; return its last value."""
        self._require_held("wait_for()")
        deadline = None if timeout is None else time.monotonic() + timeout
        result = predicate()
        while not result:
            if deadline is None:
                self.wait()
            else:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.wait(remaining)
            result = predicate()
        return result

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiting threads. The caller must hold the mutex."""
        self._require_held("notify()")
        for _ in range(min(n, len(self._waiters))):
            self._waiters.popleft().release()

    def notify_all(self) -> None:
        """Wake every waiting thread. The caller must hold the mutex."""
        self.notify(len(self._waiters))
