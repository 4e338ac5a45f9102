"""RWLock: many readers or one writer, and a waiting writer is never starved.

A key/value server's ``get`` only reads the map, so many gets could run at once;
a ``put`` must run alone. A reader-writer lock allows exactly that. The naive
version ("readers may enter whenever no writer is *inside*") starves writers:
with a steady stream of overlapping readers the count never reaches zero. Here
a writer that is *waiting* blocks new readers, so it gets in as soon as the
readers already inside leave.

What it must never do: let a writer in while a reader is inside, or two writers
at once; let one thread re-acquire it (a reader re-entering while a writer waits
would deadlock with writer preference, so that raises instead); or let a thread
release what it does not hold. Both read and write acquisitions take part in
lock-order checking: with writer preference, even two *readers* taking two
RWLocks in opposite orders can deadlock behind waiting writers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from . import lock_order as _lock_order
from .mutex import LockTimeout, _ids

__all__ = ["RWLock", "RWLockStatistics"]


@dataclass(frozen=True)
class RWLockStatistics:
    """Counts of read and write acquisitions, and the most readers seen inside at once."""

    reads: int
    writes: int
    max_concurrent_readers: int
    timeouts: int


class RWLock:
    """A writer-preferring reader-writer lock with timeouts and owner checks."""

    def __init__(self, name: str | None = None) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._lock_id = next(_ids)
        self._name = name if name is not None else f"RWLock#{self._lock_id}"
        self._readers: set[int] = set()  # thread idents currently reading
        self._writer: int | None = None
        self._waiting_writers = 0
        self._reads = 0
        self._writes = 0
        self._max_readers = 0
        self._timeouts = 0

    @property
    def name(self) -> str:
        """The name shown in errors and lock-order reports."""
        return self._name

    @property
    def lock_id(self) -> int:
        """A process-unique number: the identity lock-order checking uses."""
        return self._lock_id

    def _check_not_holding(self, me: int, operation: str) -> None:
        if me in self._readers or self._writer == me:
            mode = "read" if me in self._readers else "write"
            raise RuntimeError(
                f"{operation} of {self._name!r} by a thread that already holds it for "
                f"{mode}: RWLock is not reentrant (re-entering or upgrading can deadlock)"
            )

    def acquire_read(self, timeout: float | None = None) -> bool:
        """Enter as a reader. Waits while a writer is inside *or waiting*. False on timeout."""
        me = threading.get_ident()
        location = None
        if _lock_order._state.enabled:
            location = _lock_order.before_acquire(self, may_block=timeout != 0)
        with self._cond:
            self._check_not_holding(me, "acquire_read()")
            ok = self._cond.wait_for(
                lambda: self._writer is None and self._waiting_writers == 0, timeout=timeout
            )
            if not ok:
                self._timeouts += 1
                return False
            self._readers.add(me)
            self._reads += 1
            self._max_readers = max(self._max_readers, len(self._readers))
        if location is not None:
            _lock_order.after_acquire(self, location)
        return True

    def release_read(self) -> None:
        """Leave as a reader. Raises if this thread is not reading."""
        me = threading.get_ident()
        with self._cond:
            if me not in self._readers:
                raise RuntimeError(
                    f"release_read() of {self._name!r} by a thread that does not hold it "
                    f"for reading"
                )
            self._readers.discard(me)
            if not self._readers:
                self._cond.notify_all()
        if _lock_order._state.enabled:
            _lock_order.after_release(self)

    def acquire_write(self, timeout: float | None = None) -> bool:
        """Enter as the only writer; blocks new readers while waiting. False on timeout."""
        me = threading.get_ident()
        location = None
        if _lock_order._state.enabled:
            location = _lock_order.before_acquire(self, may_block=timeout != 0)
        with self._cond:
            self._check_not_holding(me, "acquire_write()")
            self._waiting_writers += 1
            try:
                ok = self._cond.wait_for(
                    lambda: self._writer is None and not self._readers, timeout=timeout
                )
            finally:
                self._waiting_writers -= 1
            if not ok:
                self._timeouts += 1
                # Readers held back by this writer may go now.
                self._cond.notify_all()
                return False
            self._writer = me
            self._writes += 1
        if location is not None:
            _lock_order.after_acquire(self, location)
        return True

    def release_write(self) -> None:
        """Leave as the writer. Raises if this thread is not the writer."""
        me = threading.get_ident()
        with self._cond:
            if self._writer != me:
                raise RuntimeError(
                    f"release_write() of {self._name!r} by a thread that does not hold it "
                    f"for writing"
                )
            self._writer = None
            self._cond.notify_all()
        if _lock_order._state.enabled:
            _lock_order.after_release(self)

    @contextmanager
    def read(self, timeout: float | None = None) -> Iterator[RWLock]:
        """``with rw.read(): ...`` holds it for reading; raises `LockTimeout` on timeout."""
        if not self.acquire_read(timeout):
            raise LockTimeout(f"could not acquire {self._name!r} for reading in {timeout} s")
        try:
            yield self
        finally:
            self.release_read()

    @contextmanager
    def write(self, timeout: float | None = None) -> Iterator[RWLock]:
        """``with rw.write(): ...`` holds it for writing; raises `LockTimeout` on timeout."""
        if not self.acquire_write(timeout):
            raise LockTimeout(f"could not acquire {self._name!r} for writing in {timeout} s")
        try:
            yield self
        finally:
            self.release_write()

    def statistics(self) -> RWLockStatistics:
        """A snapshot of the counters."""
        with self._cond:
            return RWLockStatistics(self._reads, self._writes, self._max_readers, self._timeouts)

    def __repr__(self) -> str:
        return f"<RWLock {self._name!r} readers={len(self._readers)} writer={self._writer}>"
