"""WaitGroup: wait for a group of threads to finish (Go's sync.WaitGroup).

The launching thread calls ``add(n)`` *before* starting n workers, each worker
calls ``done()`` when it finishes, and ``wait()`` blocks until the counter is
back to zero. The crawler uses it to know when every fetch it spawned is over.

What it must never do: let the counter go negative (more ``done()`` than
``add()``), which in Go is a panic and here a RuntimeError, because it always
means a bookkeeping bug. It depends only on the standard library's Condition:
its internal lock is never held while user code runs, so it takes no part in
lock-order checking.
"""

from __future__ import annotations

import threading

__all__ = ["WaitGroup"]


class WaitGroup:
    """A counter of outstanding tasks; ``wait()`` blocks until it is zero."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._count = 0

    def add(self, delta: int = 1) -> None:
        """Add ``delta`` (may be negative) to the counter. Raises if it would go below 0."""
        with self._cond:
            if self._count + delta < 0:
                raise RuntimeError(
                    f"WaitGroup counter would go negative ({self._count} {delta:+d}): "
                    f"done() was called more times than add()"
                )
            self._count += delta
            if self._count == 0:
                self._cond.notify_all()

    def done(self) -> None:
        """One task finished: the same as ``add(-1)``."""
        self.add(-1)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the counter is zero. Returns False if ``timeout`` s passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._count == 0, timeout=timeout)

    @property
    def count(self) -> int:
        """Tasks still outstanding (a hint: it may change right after)."""
        return self._count
