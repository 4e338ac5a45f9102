"""The MapReduce coordinator's rules as a pure state machine: which task goes to whom, and when.

A job is M map tasks (one per input split) and R reduce tasks (``n_reduce``). Each task is
*idle*, *in progress* (handed to a worker at some time) or *done*. Workers ask for work with
:meth:`Coordinator.request_task` and say they finished with :meth:`Coordinator.report_done`.
The rules, as in the MapReduce paper (Dean & Ghemawat, OSDI 2004, §3.1 and §3.3):

* reduce tasks are handed out only when every map task is done (a reduce needs one bucket
  from *every* map output);
* a task in progress for longer than ``task_timeout_s`` goes back to idle and is handed to
  another worker (the first worker may have crashed, stalled or be merely slow);
* a task is done the first time any attempt reports done; later reports are ignored, which
  is safe because tasks are deterministic and their files are written atomically;
* the job is done when every reduce task is done; then workers are told to exit.

Outputs follow the contract every core in distlab keeps (`distlab.core.Ready`):
`take_ready` hands the driver what happened since it last asked.

What it must never do: read the clock, sleep, touch files or sockets. Time is an argument
(``now``, in seconds on any monotonic scale), so tests can step it by hand. The RPC-facing
driver (:mod:`distlab.mapreduce.service`) adds the lock and the clock.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from distlab.core import Ready

__all__ = [
    "Coordinator",
    "CoordinatorStatistics",
    "Exit",
    "MapTask",
    "ReduceTask",
    "TaskEvent",
    "TaskState",
    "Wait",
]


class TaskState(enum.Enum):
    """Where one task is in its life."""

    IDLE = "idle"
    IN_PROGRESS = "in-progress"
    DONE = "done"


@dataclass(frozen=True)
class MapTask:
    """Run the map function over one input split and write ``n_reduce`` bucket files."""

    task_id: int
    input_path: str
    n_reduce: int
    attempt: int
    kind: str = "map"


@dataclass(frozen=True)
class ReduceTask:
    """Read bucket ``task_id`` of all ``n_map`` map outputs, reduce, write ``mr-out-<id>``."""

    task_id: int
    n_map: int
    attempt: int
    kind: str = "reduce"


@dataclass(frozen=True)
class Wait:
    """No task is idle right now, but the job is not finished: ask again shortly."""

    kind: str = "wait"


@dataclass(frozen=True)
class Exit:
    """The job is over (finished or failed): the worker should exit."""

    kind: str = "exit"


Assignment = MapTask | ReduceTask | Wait | Exit


@dataclass(frozen=True)
class TaskEvent:
    """One thing that happened to a task, for timelines and tests.

    ``what`` is one of ``assigned``, ``done``, ``late`` (a report for a task already done),
    ``timeout`` (handed back after ``task_timeout_s``), ``lost`` (its worker died),
    ``failed`` (the user function raised). ``started``/``finished`` are the worker's own
    timestamps for ``done`` and ``late`` reports (wall-clock seconds), else None.
    """

    at: float
    what: str
    kind: str
    task_id: int
    worker_id: str
    attempt: int
    started: float | None = None
    finished: float | None = None
    detail: str = ""


@dataclass(frozen=True)
class CoordinatorStatistics:
    """Progress of one job: what a progress bar shows."""

    phase: str  # "map", "reduce", "done" or "failed"
    maps_total: int
    maps_done: int
    maps_running: int
    reduces_total: int
    reduces_done: int
    reduces_running: int
    failed: int  # attempts that timed out, lost their worker, or raised
    reassigned: int  # attempts beyond the first, over all tasks
    late_reports: int  # done reports for tasks that were already done
    workers_seen: int

    @property
    def total(self) -> int:
        return self.maps_total + self.reduces_total

    @property
    def done(self) -> int:
        return self.maps_done + self.reduces_done

    @property
    def running(self) -> int:
        return self.maps_running + self.reduces_running


@dataclass
class _Task:
    kind: str
    task_id: int
    state: TaskState = TaskState.IDLE
    worker_id: str | None = None
    assigned_at: float = 0.0
    attempts: int = 0
    failures: int = 0
    workers: list[str] = field(default_factory=list)


class Coordinator:
    """The coordinator's bookkeeping for one job. Pure: every input is a call, time included.

    Args:
        inputs: one input file path per map task.
        n_reduce: number of reduce tasks (buckets).
        task_timeout_s: an attempt in progress longer than this goes back to idle.
        max_task_failures: a task whose user function raised this many times fails the job
            (a bug in map/reduce would otherwise be retried for ever).
    """

    def __init__(
        self,
        inputs: Sequence[str],
        n_reduce: int,
        *,
        task_timeout_s: float = 10.0,
        max_task_failures: int = 3,
    ) -> None:
        if not inputs:
            raise ValueError("a MapReduce job needs at least one input split")
        if n_reduce < 1:
            raise ValueError(f"n_reduce must be at least 1, got {n_reduce}")
        if task_timeout_s <= 0:
            raise ValueError(f"task_timeout_s must be positive, got {task_timeout_s}")
        self.inputs = [str(path) for path in inputs]
        self.n_reduce = n_reduce
        self.task_timeout_s = task_timeout_s
        self.max_task_failures = max_task_failures
        self._maps = [_Task("map", i) for i in range(len(self.inputs))]
        self._reduces = [_Task("reduce", r) for r in range(n_reduce)]
        self._events: list[TaskEvent] = []
        self._failed_attempts = 0
        self._late_reports = 0
        self._workers: set[str] = set()
        self.error: str | None = None  # set when the job failed

    # ---- the phase -------------------------------------------------------------------------

    @property
    def maps_done(self) -> bool:
        return all(task.state is TaskState.DONE for task in self._maps)

    @property
    def done(self) -> bool:
        """True when every reduce task is done (the job's output is complete)."""
        return all(task.state is TaskState.DONE for task in self._reduces)

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def phase(self) -> str:
        if self.failed:
            return "failed"
        if self.done:
            return "done"
        return "reduce" if self.maps_done else "map"

    def _current_tasks(self) -> list[_Task]:
        # §3.1: reduce workers read every map output, so reduces wait for the last map.
        return self._reduces if self.maps_done else self._maps

    def _task(self, kind: str, task_id: int) -> _Task:
        tasks = {"map": self._maps, "reduce": self._reduces}.get(kind)
        if tasks is None:
            raise ValueError(f"task kind must be 'map' or 'reduce', got {kind!r}")
        if not 0 <= task_id < len(tasks):
            raise ValueError(f"there is no {kind} task {task_id} (0..{len(tasks) - 1})")
        return tasks[task_id]

    # ---- inputs ----------------------------------------------------------------------------

    def request_task(self, worker_id: str, now: float) -> Assignment:
        """A worker asks for work at time ``now``: a task, Wait, or Exit."""
        self._workers.add(worker_id)
        if self.done or self.failed:
            return Exit()
        self.check_timeouts(now)
        for task in self._current_tasks():
            if task.state is TaskState.IDLE:
                return self._assign(task, worker_id, now)
        return Wait()

    def _assign(self, task: _Task, worker_id: str, now: float) -> MapTask | ReduceTask:
        task.state = TaskState.IN_PROGRESS
        task.worker_id = worker_id
        task.assigned_at = now
        task.attempts += 1
        task.workers.append(worker_id)
        self._events.append(
            TaskEvent(now, "assigned", task.kind, task.task_id, worker_id, task.attempts)
        )
        if task.kind == "map":
            return MapTask(task.task_id, self.inputs[task.task_id], self.n_reduce, task.attempts)
        return ReduceTask(task.task_id, len(self._maps), task.attempts)

    def report_done(
        self,
        worker_id: str,
        kind: str,
        task_id: int,
        attempt: int,
        now: float,
        *,
        started: float | None = None,
        finished: float | None = None,
    ) -> bool:
        """A worker finished ``kind`` task ``task_id``. Returns True if this report counted.

        The first report wins, even from an attempt that had already timed out: its files
        are complete (written atomically) and identical to any other attempt's.
        """
        task = self._task(kind, task_id)
        if task.state is TaskState.DONE:
            self._late_reports += 1
            self._events.append(
                TaskEvent(now, "late", kind, task_id, worker_id, attempt, started, finished)
            )
            return False
        task.state = TaskState.DONE
        task.worker_id = worker_id
        self._events.append(
            TaskEvent(now, "done", kind, task_id, worker_id, attempt, started, finished)
        )
        return True

    def report_failed(
        self, worker_id: str, kind: str, task_id: int, attempt: int, now: float, error: str
    ) -> None:
        """The user's function raised in this attempt: retry elsewhere, or fail the job."""
        task = self._task(kind, task_id)
        self._events.append(
            TaskEvent(now, "failed", kind, task_id, worker_id, attempt, detail=error)
        )
        if task.state is TaskState.DONE:
            return
        task.failures += 1
        self._failed_attempts += 1
        if task.state is TaskState.IN_PROGRESS and task.worker_id == worker_id:
            task.state = TaskState.IDLE
            task.worker_id = None
        if task.failures >= self.max_task_failures and self.error is None:
            self.error = f"{kind} task {task_id} raised {task.failures} times; last error: {error}"

    def worker_lost(self, worker_id: str, now: float) -> list[tuple[str, int]]:
        """The driver saw ``worker_id`` die: its tasks in progress go back to idle at once.

        (Without this the timeout would catch them too, only later.) Returns the tasks put
        back. Done tasks stay done: here intermediate files live on a shared disk, unlike
        the paper's local disks, so a dead worker's finished map output is not lost.
        """
        returned = []
        for task in self._maps + self._reduces:
            if task.state is TaskState.IN_PROGRESS and task.worker_id == worker_id:
                self._give_back(task, now, "lost")
                returned.append((task.kind, task.task_id))
        return returned

    def check_timeouts(self, now: float) -> list[tuple[str, int]]:
        """Put back every attempt in progress for longer than the timeout. Returns them."""
        returned = []
        for task in self._maps + self._reduces:
            if task.state is TaskState.IN_PROGRESS and now - task.assigned_at > self.task_timeout_s:
                self._give_back(task, now, "timeout")
                returned.append((task.kind, task.task_id))
        return returned

    def _give_back(self, task: _Task, now: float, why: str) -> None:
        assert task.worker_id is not None, "an in-progress task has a worker"
        self._events.append(
            TaskEvent(now, why, task.kind, task.task_id, task.worker_id, task.attempts)
        )
        task.state = TaskState.IDLE
        task.worker_id = None
        self._failed_attempts += 1

    # ---- outputs ---------------------------------------------------------------------------

    def has_ready(self) -> bool:
        """True if `take_ready` would return anything."""
        return bool(self._events)

    def take_ready(self) -> Ready:
        """The core contract's one output shape (`distlab.core.Ready`): the `TaskEvent`s since
        the last call as ``outputs`` (the driver keeps the full timeline). The coordinator
        persists nothing and sends nothing itself: workers ask, and its answers are the
        return values of `request_task` and `report_done`."""
        events, self._events = self._events, []
        return Ready(outputs=events)

    def in_progress(self) -> dict[str, tuple[str, int]]:
        """``{worker_id: (kind, task_id)}`` for every attempt currently in progress."""
        return {
            task.worker_id: (task.kind, task.task_id)
            for task in self._maps + self._reduces
            if task.state is TaskState.IN_PROGRESS and task.worker_id is not None
        }

    def task_states(self, kind: str) -> list[TaskState]:
        """The state of every ``kind`` task, by task id."""
        return [task.state for task in (self._maps if kind == "map" else self._reduces)]

    def attempts(self, kind: str) -> list[int]:
        """How many times each ``kind`` task was handed out, by task id."""
        return [task.attempts for task in (self._maps if kind == "map" else self._reduces)]

    def statistics(self) -> CoordinatorStatistics:
        """Counts for a progress bar: done, running, failed attempts, per phase."""

        def count(tasks: list[_Task], state: TaskState) -> int:
            return sum(task.state is state for task in tasks)

        attempts = sum(task.attempts for task in self._maps + self._reduces)
        started = sum(task.attempts > 0 for task in self._maps + self._reduces)
        return CoordinatorStatistics(
            phase=self.phase,
            maps_total=len(self._maps),
            maps_done=count(self._maps, TaskState.DONE),
            maps_running=count(self._maps, TaskState.IN_PROGRESS),
            reduces_total=len(self._reduces),
            reduces_done=count(self._reduces, TaskState.DONE),
            reduces_running=count(self._reduces, TaskState.IN_PROGRESS),
            failed=self._failed_attempts,
            reassigned=attempts - started,
            late_reports=self._late_reports,
            workers_seen=len(self._workers),
        )
