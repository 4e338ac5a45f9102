"""CoordinatorService: the pure Coordinator behind a lock and a clock, ready to serve RPCs.

Its :meth:`~CoordinatorService.endpoint`, registered on a :class:`distlab.rpc.Server` under
the name ``"Coordinator"``, offers exactly the RPCs workers call:
``Coordinator.request_task(worker_id)``, ``Coordinator.report_done(...)``,
``Coordinator.report_failed(...)``, and ``Coordinator.statistics()`` for progress bars in other
processes. The rest (timeouts, lost workers, events) is for the driver in this process.
Requests arrive on the server's threads, so every call takes one lock (the coordinator's
state is shared) and reads the clock once.

What it must never do: block while holding the lock, or accept anything but plain data
(names, numbers, strings): workers send task ids and timestamps, never objects.
Until :meth:`open` is called every request is answered ``Wait``, so a benchmark can start
its workers first and only then start the clock.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from distlab.mapreduce.core import Coordinator, CoordinatorStatistics, TaskEvent, Wait

__all__ = ["CoordinatorEndpoint", "CoordinatorService"]


class CoordinatorService:
    """Thread-safe, clocked wrapper of :class:`Coordinator`, for the RPC threads and the driver.

    Args:
        coordinator: the pure state machine to drive.
        clock: seconds on a monotonic scale shared with the workers (``time.monotonic`` is
            system-wide on Linux, macOS and Windows, so worker timestamps line up with it).
        opened: if False, answer ``Wait`` until :meth:`open` is called.
    """

    def __init__(
        self,
        coordinator: Coordinator,
        *,
        clock: Callable[[], float] = time.monotonic,
        opened: bool = True,
    ) -> None:
        self._coordinator = coordinator
        self._clock = clock
        self._lock = threading.Lock()
        self._timeline: list[TaskEvent] = []
        self._opened = opened
        self._requests = 0
        self._seen: set[str] = set()
        self._changed = threading.Condition(self._lock)

    # ---- RPCs (plain data in, plain data out) ----------------------------------------------

    def request_task(self, worker_id: str) -> dict[str, Any]:
        """A task for ``worker_id`` as a dict with a ``kind``: map, reduce, wait or exit."""
        with self._lock:
            self._requests += 1
            self._seen.add(worker_id)
            self._changed.notify_all()
            if not self._opened:
                return dataclasses.asdict(Wait())
            assignment = self._coordinator.request_task(str(worker_id), self._clock())
            self._collect()
            return dataclasses.asdict(assignment)

    def report_done(
        self,
        worker_id: str,
        kind: str,
        task_id: int,
        attempt: int,
        started: float,
        finished: float,
    ) -> bool:
        """``worker_id`` finished a task; its own start/finish times go in the timeline."""
        with self._lock:
            accepted = self._coordinator.report_done(
                str(worker_id),
                str(kind),
                int(task_id),
                int(attempt),
                self._clock(),
                started=float(started),
                finished=float(finished),
            )
            self._collect()
            return accepted

    def report_failed(
        self, worker_id: str, kind: str, task_id: int, attempt: int, error: str
    ) -> None:
        """The user's function raised in ``worker_id``'s attempt."""
        with self._lock:
            self._coordinator.report_failed(
                str(worker_id), str(kind), int(task_id), int(attempt), self._clock(), str(error)
            )
            self._collect()

    # ---- for the driver in this process (not called over RPC) ------------------------------

    def endpoint(self) -> CoordinatorEndpoint:
        """The object to register on an rpc Server: only the four RPC methods, nothing else."""
        return CoordinatorEndpoint(self)

    def _collect(self) -> None:
        self._timeline.extend(self._coordinator.take_ready().outputs)
        self._changed.notify_all()

    def open(self) -> None:
        """Start handing out tasks."""
        with self._lock:
            self._opened = True
            self._changed.notify_all()

    def statistics(self) -> CoordinatorStatistics:
        """The coordinator's progress counts."""
        with self._lock:
            return self._coordinator.statistics()

    def tick(self) -> list[tuple[str, int]]:
        """Hand back attempts that exceeded the timeout (the driver calls this periodically)."""
        with self._lock:
            returned = self._coordinator.check_timeouts(self._clock())
            self._collect()
            return returned

    def worker_lost(self, worker_id: str) -> list[tuple[str, int]]:
        """The driver saw this worker's process die."""
        with self._lock:
            returned = self._coordinator.worker_lost(worker_id, self._clock())
            self._collect()
            return returned

    def holding(self) -> dict[str, tuple[str, int]]:
        """``{worker_id: (kind, task_id)}`` for every attempt in progress."""
        with self._lock:
            return self._coordinator.in_progress()

    def events(self) -> list[TaskEvent]:
        """Every event so far, in order."""
        with self._lock:
            return list(self._timeline)

    def seen_workers(self) -> set[str]:
        with self._lock:
            return set(self._seen)

    @property
    def done(self) -> bool:
        with self._lock:
            return self._coordinator.done

    @property
    def error(self) -> str | None:
        with self._lock:
            return self._coordinator.error

    @property
    def finished(self) -> bool:
        """Done or failed: workers are being told to exit."""
        with self._lock:
            return self._coordinator.done or self._coordinator.failed

    def wait_for_change(self, timeout: float) -> None:
        """Block until some RPC changed the state, or ``timeout`` passes."""
        with self._changed:
            self._changed.wait(timeout)


class CoordinatorEndpoint:
    """The RPC face of a :class:`CoordinatorService`: exactly the calls workers may make.

    Register it as ``server.register(endpoint, name="Coordinator")``.
    """

    def __init__(self, service: CoordinatorService) -> None:
        self._service = service

    def request_task(self, worker_id: str) -> dict[str, Any]:
        return self._service.request_task(worker_id)

    def report_done(
        self,
        worker_id: str,
        kind: str,
        task_id: int,
        attempt: int,
        started: float,
        finished: float,
    ) -> bool:
        return self._service.report_done(worker_id, kind, task_id, attempt, started, finished)

    def report_failed(
        self, worker_id: str, kind: str, task_id: int, attempt: int, error: str
    ) -> None:
        self._service.report_failed(worker_id, kind, task_id, attempt, error)

    def statistics(self) -> dict[str, Any]:
        """Progress counts as a plain dict (what crosses the network)."""
        return dataclasses.asdict(self._service.statistics())
