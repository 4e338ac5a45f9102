"""Semaphore: a counter of permits; acquire takes one, release gives one back.

Use it to bound concurrency (at most k fetches in flight, at most k open
connections). Unlike a Mutex it has no owner: any thread may release.

What it must never do: let the count exceed ``max_value`` when one is given
(a release without a matching acquire is then a RuntimeError, like Python's
BoundedSemaphore), or go below zero. Built on the standard library's Condition;
it takes no part in lock-order checking because it has no owner to blame.
"""

from __future__ import annotations

import threading
from types import TracebackType

__all__ = ["Semaphore"]


class Semaphore:
    """``value`` permits; ``acquire(timeout)`` waits for one, ``release()`` returns one."""

    def __init__(self, value: int = 1, *, max_value: int | None = None) -> None:
        if value < 0:
            raise ValueError(f"Semaphore value must be >= 0, not {value}")
        if max_value is not None and max_value < value:
            raise ValueError(f"max_value ({max_value}) is below the initial value ({value})")
        self._cond = threading.Condition(threading.Lock())
        self._value = value
        self._max_value = max_value

    @property
    def value(self) -> int:
        """Permits available right now (a hint)."""
        return self._value

    def acquire(self, timeout: float | None = None) -> bool:
        """Take a permit, waiting at most ``timeout`` s. Returns False on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._value > 0, timeout=timeout):
                return False
            self._value -= 1
            return True

    def release(self, n: int = 1) -> None:
        """Return ``n`` permits and wake waiters."""
        with self._cond:
            if self._max_value is not None and self._value + n > self._max_value:
                raise RuntimeError(
                    f"Semaphore released above its max_value {self._max_value}: "
                    f"more release() than acquire()"
                )
            self._value += n
            self._cond.notify(n)

    def __enter__(self) -> Semaphore:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
