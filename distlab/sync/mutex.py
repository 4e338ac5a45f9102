"""Mutex: a mutual-exclusion lock that knows its owner and counts its contention.

Python's `threading.Lock` lets any thread release it and cannot say who holds it,
so the most common locking bugs (releasing a lock you never took, taking a lock
twice in one thread) turn into silent corruption or a hang. `Mutex` turns them
into clear errors, takes an optional timeout, and keeps `statistics()` so a
notebook can show how often threads actually had to wait.

What it must never do: block anywhere except on its underlying lock, or let a
thread that does not hold it release it. It is *not* reentrant: a second acquire
by the owner raises instead of deadlocking on itself.

It fits at the bottom of distlab: `Cond` binds to a Mutex, the RPC server and
the cluster runtime guard their state with Mutexes, and `lock_order.py` watches
every acquisition when lock-order checking is on.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from . import lock_order as _lock_order

__all__ = ["LockTimeout", "Mutex", "MutexStatistics"]

_ids = itertools.count(1)


class LockTimeout(TimeoutError):
    """A lock (or other primitive) could not be acquired before its timeout."""


@dataclass(frozen=True)
class MutexStatistics:
    """How much a Mutex was fought over.

    ``acquisitions`` counts successful acquires; ``contended_acquisitions`` the
    ones that found the Mutex already held and had to wait; ``total_wait_seconds``
    and ``max_wait_seconds`` measure that waiting; ``timeouts`` counts acquires
    that gave up; ``waiting`` is how many threads are blocked in ``acquire`` right now
    (so a test can wait for "the other thread is blocked on us" instead of sleeping).
    """

    acquisitions: int
    contended_acquisitions: int
    total_wait_seconds: float
    max_wait_seconds: float
    timeouts: int
    waiting: int = 0

    def __str__(self) -> str:
        share = self.contended_acquisitions / self.acquisitions if self.acquisitions else 0.0
        return (
            f"{self.acquisitions} acquisitions, {self.contended_acquisitions} had to wait "
            f"({share:.0%}); waited {self.total_wait_seconds:.3f} s in all, at most "
            f"{self.max_wait_seconds * 1000:.1f} ms at once; {self.timeouts} timeouts"
        )


class Mutex:
    """A non-reentrant lock with an owner, timeouts and contention statistics.

    >>> m = Mutex("balance")
    >>> with m:
    ...     pass
    >>> m.acquire(timeout=0.5)
    True
    >>> m.release()
    """

    def __init__(self, name: str | None = None) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._lock_id = next(_ids)
        self._name = name if name is not None else f"Mutex#{self._lock_id}"
        # Statistics are only written by the owner (right after acquiring), so
        # the Mutex itself protects them; `_stats_guard` makes a snapshot consistent.
        self._stats_guard = threading.Lock()
        self._acquisitions = 0
        self._contended = 0
        self._total_wait = 0.0
        self._max_wait = 0.0
        self._timeouts = 0
        self._waiting = 0

    @property
    def name(self) -> str:
        """The name shown in errors and lock-order reports."""
        return self._name

    @property
    def lock_id(self) -> int:
        """A process-unique number: the identity lock-order checking uses."""
        return self._lock_id

    def acquire(self, timeout: float | None = None) -> bool:
        """Take the Mutex, waiting at most ``timeout`` seconds (None: forever, 0: try once).

        Returns True if acquired, False on timeout. Raises RuntimeError if the
        calling thread already holds it, and `PotentialDeadlock` if lock-order
        checking is on and this acquisition inverts an order seen before.
        """
        me = threading.get_ident()
        if self._owner == me:
            raise RuntimeError(
                f"acquire() of {self._name!r} by the thread that already holds it: "
                f"Mutex is not reentrant, so this would deadlock"
            )
        if timeout is not None and timeout < 0:
            raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
        location = None
        if _lock_order._state.enabled:
            location = _lock_order.before_acquire(self, may_block=timeout != 0)
        if self._lock.acquire(blocking=False):
            waited = None
        else:
            if timeout == 0:
                with self._stats_guard:
                    self._timeouts += 1
                return False
            started = time.monotonic()
            with self._stats_guard:
                self._waiting += 1
            try:
                acquired = self._lock.acquire(timeout=-1 if timeout is None else timeout)
            finally:
                with self._stats_guard:
                    self._waiting -= 1
            waited = time.monotonic() - started
            if not acquired:
                with self._stats_guard:
                    self._timeouts += 1
                return False
        self._owner = me
        self._record_acquisition(waited)
        if location is not None:
            _lock_order.after_acquire(self, location)
        return True

    def _record_acquisition(self, waited: float | None) -> None:
        """Count one acquisition; ``waited`` is None if the Mutex was free at once."""
        with self._stats_guard:
            self._acquisitions += 1
            if waited is not None:
                self._contended += 1
                self._total_wait += waited
                self._max_wait = max(self._max_wait, waited)

    def _reacquire_after_wait(self, location: str | None) -> None:
        """Take the Mutex back at the end of `Cond.wait` (blocking, no order check).

        Re-taking the mutex continues the hold that began before ``wait()``; its
        order was checked then. Checking again here could raise in the middle of
        ``wait`` and return without the mutex, which is worse than useless.
        """
        if self._lock.acquire(blocking=False):
            waited = None
        else:
            started = time.monotonic()
            self._lock.acquire()
            waited = time.monotonic() - started
        self._owner = threading.get_ident()
        self._record_acquisition(waited)
        if location is not None and _lock_order._state.enabled:
            _lock_order.after_acquire(self, location)

    def release(self) -> None:
        """Give the Mutex back. Only the thread that acquired it may release it."""
        me = threading.get_ident()
        if self._owner != me:
            if self._owner is None:
                raise RuntimeError(f"release() of {self._name!r}, which is not locked")
            raise RuntimeError(
                f"release() of {self._name!r} by a thread that does not hold it "
                f"(only the thread that acquired a Mutex may release it)"
            )
        self._owner = None
        if _lock_order._state.enabled:
            _lock_order.after_release(self)
        self._lock.release()

    def locked(self) -> bool:
        """True if some thread holds the Mutex (a hint: it may change right after)."""
        return self._lock.locked()

    def held_by_current_thread(self) -> bool:
        """True if the calling thread holds the Mutex."""
        return self._owner == threading.get_ident()

    def statistics(self) -> MutexStatistics:
        """A consistent snapshot of the contention counters."""
        with self._stats_guard:
            return MutexStatistics(
                acquisitions=self._acquisitions,
                contended_acquisitions=self._contended,
                total_wait_seconds=self._total_wait,
                max_wait_seconds=self._max_wait,
                timeouts=self._timeouts,
                waiting=self._waiting,
            )

    def hold(self, timeout: float | None = None) -> _Held:
        """A context manager that acquires with ``timeout`` or raises `LockTimeout`.

        ``with mutex.hold(timeout=1.0): ...`` never hangs forever.
        """
        return _Held(self, timeout)

    def __enter__(self) -> Mutex:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()

    def __repr__(self) -> str:
        state = "locked" if self.locked() else "unlocked"
        return f"<Mutex {self._name!r} {state}>"


class _Held:
    """Context manager returned by `Mutex.hold`."""

    def __init__(self, mutex: Mutex, timeout: float | None) -> None:
        self._mutex = mutex
        self._timeout = timeout

    def __enter__(self) -> Mutex:
        if not self._mutex.acquire(timeout=self._timeout):
            raise LockTimeout(
                f"could not acquire {self._mutex.name!r} within {self._timeout} s "
                f"(is another thread holding it forever, or is this a deadlock?)"
            )
        return self._mutex

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._mutex.release()
