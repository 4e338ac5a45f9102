"""Run a MapReduce job for real: a coordinator on rpc, worker processes, crashes and all.

:class:`Job` puts a :class:`~distlab.mapreduce.service.CoordinatorService` on a
:class:`distlab.rpc.Server` (bound to 127.0.0.1, port 0) in *this* process, and starts worker
processes with ``multiprocess``'s spawn method. A monitor thread watches the workers: when one
dies it tells the coordinator at once (``worker_lost``), optionally starts a replacement, and
hands timed-out attempts back. :func:`run_job` is the one-call version.

Why plain spawned processes rather than :class:`distlab.cluster.Cluster` nodes: a MapReduce
worker is a short-lived client that exits when the job ends (the coordinator tells it to),
not a long-lived server with its own port and data directory.

The application (the user's map and reduce functions, possibly defined in a notebook cell)
is pickled with dill (``recurse=True``, so a cell's globals travel) by this trusted parent and
handed to each worker at start-up. Over the network only task ids, paths and numbers travel.

What it must never do: leave a process or a temp file behind. ``close()`` (also on error and
on leaving a ``with`` block) kills what is still running, waits for it, and removes the temp
files of writers that were killed mid-write.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dill
import multiprocess

from distlab.mapreduce.apps import MapReduceApp
from distlab.mapreduce.core import Coordinator, CoordinatorStatistics, TaskEvent
from distlab.mapreduce.service import CoordinatorService
from distlab.mapreduce.tasks import TEMP_GLOB, output_name, read_output
from distlab.mapreduce.worker import worker_main

__all__ = ["Job", "JobResult", "KillPlan", "MapReduceError", "TaskRun", "run_job"]

SPAWN = multiprocess.get_context("spawn")

# After the job is done, a worker still busy (stalled in a task another worker finished) gets
# this long to notice and exit before it is killed: its work is no longer needed.
STRAGGLER_GRACE_S = 3.0


class MapReduceError(RuntimeError):
    """The job could not finish: a user function kept raising, or every worker died."""


@dataclass(frozen=True)
class KillPlan:
    """A seeded schedule of worker crashes: SIGKILL the worker handed the k-th task.

    ``kills`` assignment numbers are drawn from ``1..tasks`` with ``Random(seed)``; each kill
    lands ``0..delay_s_max`` seconds after that assignment (so mid-task for tasks that take
    longer than that).
    """

    seed: int
    kills: int = 2
    delay_s_max: float = 0.1

    def schedule(self, tasks: int) -> dict[int, float]:
        """``{assignment number: delay in seconds}``."""
        rng = random.Random(self.seed)
        chosen = rng.sample(range(1, tasks + 1), min(self.kills, tasks))
        return {number: rng.uniform(0.0, self.delay_s_max) for number in sorted(chosen)}


@dataclass(frozen=True)
class TaskRun:
    """One attempt that ran to the end, in the worker's own timestamps (seconds from start)."""

    worker_id: str
    kind: str
    task_id: int
    attempt: int
    started: float
    finished: float
    accepted: bool  # False for a late duplicate (the task was already done)


@dataclass
class JobResult:
    """Everything a finished job produced and what happened on the way."""

    app_name: str
    output: dict[str, str]
    statistics: CoordinatorStatistics
    events: list[TaskEvent]  # ``at`` in seconds from the job's start
    runs: list[TaskRun]
    killed: list[tuple[float, str, tuple[str, int] | None]]  # (at, worker, task it held)
    workers: list[str]  # every worker started, replacements included
    exit_codes: dict[str, int | None]  # worker -> exit code (-9: SIGKILL)
    exited_at: dict[str, float | None]  # worker -> when it was seen gone (from the start)
    seconds: float  # from opening the coordinator to the last reduce done
    work_dir: Path | None  # None when the job used a temporary directory (removed)
    output_files: list[str] = field(default_factory=list)

    def overlaps(self, kind: str | None = None) -> list[tuple[TaskRun, TaskRun]]:
        """Pairs of attempts by *different* workers whose [started, finished] intervals overlap.

        Non-empty means parallelism really happened (并行): two workers ran tasks at once.
        """
        runs = [run for run in self.runs if kind is None or run.kind == kind]
        return [
            (a, b)
            for i, a in enumerate(runs)
            for b in runs[i + 1 :]
            if a.worker_id != b.worker_id and a.started < b.finished and b.started < a.finished
        ]

    def reexecuted(self) -> list[tuple[str, int]]:
        """Tasks handed out more than once (after a crash, a timeout or a failure)."""
        counts: dict[tuple[str, int], int] = {}
        for event in self.events:
            if event.what == "assigned":
                key = (event.kind, event.task_id)
                counts[key] = counts.get(key, 0) + 1
        return sorted(key for key, count in counts.items() if count > 1)

    def timeline(self) -> str:
        """The events as text, one per line."""
        lines = []  # (time, order, text): events keep their order when times tie
        for order, event in enumerate(self.events):
            line = f"{event.at:7.3f}s  {event.worker_id:>4} {event.what:<8} {event.kind}"
            attempt = f" (attempt {event.attempt})" if event.attempt > 1 else ""
            lines.append((event.at, order, f"{line} {event.task_id}{attempt}"))
        for at, worker, task in self.killed:
            held = f" while running {task[0]} {task[1]}" if task else ""
            lines.append((at, -1, f"{at:7.3f}s  {worker:>4} killed (SIGKILL){held}"))
        return "\n".join(text for _, _, text in sorted(lines))


@dataclass
class _Worker:
    worker_id: str
    process: Any
    lost: bool = False
    exited_at: float | None = None  # when the monitor saw it gone (monotonic)


class Job:
    """One MapReduce job on ``workers`` worker processes. Use as a context manager.

    Args:
        app: the map and reduce functions.
        inputs: input files, one map task each.
        n_reduce: number of reduce tasks (and output files).
        workers: worker processes to start.
        work_dir: where intermediate and output files go; default a temporary directory that
            is removed when the job closes.
        task_timeout_s: an attempt running longer goes to another worker (a stalled worker).
        restart_workers: start a replacement whenever a worker dies (as the 6.824 crash test
            does); without it, the survivors finish the job.
        kill_plan: a seeded schedule of worker crashes (for tests).
        wait_for_workers: start the clock only once every worker has asked for a task, so
            process start-up is not timed as work (benchmarks).
    """

    def __init__(
        self,
        app: MapReduceApp,
        inputs: Sequence[str | os.PathLike[str]],
        n_reduce: int = 3,
        workers: int = 2,
        *,
        work_dir: str | os.PathLike[str] | None = None,
        task_timeout_s: float = 10.0,
        restart_workers: bool = False,
        kill_plan: KillPlan | None = None,
        wait_for_workers: bool = True,
        max_task_failures: int = 3,
        poll_s: float = 0.05,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.app = app
        self.inputs = [str(path) for path in inputs]
        for path in self.inputs:
            if not Path(path).is_file():
                raise FileNotFoundError(f"input split {path} does not exist")
        self.n_reduce = n_reduce
        self.n_workers = workers
        self.restart_workers = restart_workers
        self.poll_s = poll_s
        self._own_dir = work_dir is None
        self._remove_work_dir: weakref.finalize | None = None
        self._work_dir = Path(work_dir) if work_dir is not None else None
        self._wait_for_workers = wait_for_workers
        self.service = CoordinatorService(
            Coordinator(
                self.inputs,
                n_reduce,
                task_timeout_s=task_timeout_s,
                max_task_failures=max_task_failures,
            ),
            opened=not wait_for_workers,
        )
        tasks = len(self.inputs) + n_reduce
        self._kills = kill_plan.schedule(tasks) if kill_plan else {}
        self._payload = dill.dumps(app, recurse=True)
        self._workers: dict[str, _Worker] = {}
        self._lock = threading.Lock()
        self._server: Any = None
        self._monitor: threading.Thread | None = None
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._problem: str | None = None
        self._killed: list[tuple[float, str, tuple[str, int] | None]] = []
        self._opened_at: float | None = None
        self._done_at: float | None = None
        self._next_id = 0
        self._closed = False

    # ---- life cycle ------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> Job:
        """Start the coordinator and the workers; returns self once tasks are being handed out."""
        from distlab.rpc import Server

        try:
            if self._work_dir is None:
                self._work_dir = Path(tempfile.mkdtemp(prefix="distlab-mr-"))
                # Removed by close(), or when the interpreter exits without it (a notebook
                # whose kernel is shut down with the job still open).
                self._remove_work_dir = weakref.finalize(
                    self, shutil.rmtree, self._work_dir, ignore_errors=True
                )
            self._work_dir.mkdir(parents=True, exist_ok=True)
            self._server = Server(host="127.0.0.1", port=0, name="coordinator")
            self._server.register(self.service.endpoint(), name="Coordinator")
            self._server.start()
            for _ in range(self.n_workers):
                self._spawn()
            if self._wait_for_workers:
                deadline = time.monotonic() + timeout_s
                while len(self.service.seen_workers()) < self.n_workers:
                    if time.monotonic() > deadline:
                        raise MapReduceError(
                            f"only {len(self.service.seen_workers())} of {self.n_workers} "
                            f"workers contacted the coordinator within {timeout_s} s"
                        )
                    self._check_workers_started()
                    self.service.wait_for_change(0.05)
            self._opened_at = time.monotonic()
            self.service.open()
            self._monitor = threading.Thread(target=self._watch, name="mr-monitor", daemon=True)
            self._monitor.start()
        except BaseException:
            self.close()
            raise
        return self

    def __enter__(self) -> Job:
        return self.start() if self._server is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _spawn(self) -> str | None:
        if self._stop.is_set():
            return None
        with self._lock:
            worker_id = f"w{self._next_id}"
            self._next_id += 1
        process = SPAWN.Process(
            target=worker_main,
            args=(
                self._server.address,
                worker_id,
                self._payload,
                str(self.work_dir),
                self.poll_s,
            ),
            name=f"mapreduce-{worker_id}",
            daemon=True,
        )
        process.start()
        with self._lock:
            self._workers[worker_id] = _Worker(worker_id, process)
        return worker_id

    def _check_workers_started(self) -> None:
        for worker in list(self._workers.values()):
            if worker.process.exitcode is not None:
                raise MapReduceError(
                    f"worker {worker.worker_id} exited with code {worker.process.exitcode} "
                    "before asking for a task (see its stderr; with spawn, a script that starts "
                    'a job needs an `if __name__ == "__main__":` guard)'
                )

    def _watch(self) -> None:
        """Monitor thread: dead workers, timeouts, the kill plan, the end of the job."""
        try:
            self._watch_loop()
        except Exception as error:  # never let wait() hang on a dead monitor
            self._problem = f"the job's monitor thread failed: {error!r}"
        finally:
            self._finished.set()

    def _watch_loop(self) -> None:
        assignments = 0
        seen_events = 0
        pending_kills: list[tuple[float, str, tuple[str, int]]] = []
        while not self._stop.is_set():
            self.service.tick()
            events = self.service.events()
            for event in events[seen_events:]:
                if event.what == "assigned":
                    assignments += 1
                    if assignments in self._kills:
                        at = time.monotonic() + self._kills[assignments]
                        pending_kills.append((at, event.worker_id, (event.kind, event.task_id)))
            seen_events = len(events)
            now = time.monotonic()
            for planned in [kill for kill in pending_kills if kill[0] <= now]:
                pending_kills.remove(planned)
                if not self.service.finished:
                    self.kill_worker(planned[1])
            finished = self.service.finished
            if finished and self._done_at is None:
                self._done_at = now
            alive = 0
            for worker in list(self._workers.values()):
                if worker.process.is_alive():
                    alive += 1
                elif not worker.lost:
                    worker.lost = True
                    worker.exited_at = now
                    if not finished:
                        self.service.worker_lost(worker.worker_id)
                        if self.restart_workers:
                            self._spawn()
                            alive += 1
            if finished and alive == 0:
                break
            if finished and self._done_at is not None and now - self._done_at > STRAGGLER_GRACE_S:
                for worker in list(self._workers.values()):
                    if worker.process.is_alive():  # stuck in a task that is done elsewhere
                        worker.process.kill()
            if not finished and alive == 0:
                self._problem = "every worker died; nobody is left to finish the job"
                break
            self.service.wait_for_change(self.poll_s)

    def kill_worker(self, worker_id: str | None = None) -> str | None:
        """SIGKILL a worker: by default one that is running a task. Returns its id.

        Returns None if no worker is alive. This is what the notebook's button calls.
        """
        holding = self.service.holding()
        with self._lock:
            alive = [w for w in self._workers.values() if w.process.is_alive()]
        if worker_id is None:
            busy = [w for w in alive if w.worker_id in holding]
            candidates = busy or alive
            if not candidates:
                return None
            worker_id = candidates[0].worker_id
        worker = self._workers.get(worker_id)
        if worker is None:
            raise KeyError(f"no worker named {worker_id!r} (workers: {sorted(self._workers)})")
        if not worker.process.is_alive():
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.process.pid, signal.SIGKILL)
        started = self._opened_at or time.monotonic()
        self._killed.append((time.monotonic() - started, worker_id, holding.get(worker_id)))
        return worker_id

    @property
    def work_dir(self) -> Path:
        """Where the intermediate (``mr-M-R``) and output (``mr-out-R``) files are written."""
        if self._work_dir is None:
            raise RuntimeError("the job has not started, so it has no work directory yet")
        return self._work_dir

    @property
    def address(self) -> tuple[str, int]:
        """The coordinator's rpc address (host, port)."""
        if self._server is None:
            raise RuntimeError("the job has not started")
        return tuple(self._server.address)

    # ---- watching --------------------------------------------------------------------------

    def wait_for_task_running(
        self, timeout_s: float = 30.0, *, after_done: int = 0
    ) -> dict[str, tuple[str, int]]:
        """Block until a worker is running a task and ``after_done`` tasks are done.

        Returns ``{worker: (kind, task_id)}`` of the attempts running at that moment.
        """
        deadline = time.monotonic() + timeout_s
        while self.statistics().done < after_done or not (holding := self.service.holding()):
            if self.service.finished or time.monotonic() > deadline:
                raise TimeoutError(f"no task was running within {timeout_s} s")
            self.service.wait_for_change(0.05)
        return holding

    def statistics(self) -> CoordinatorStatistics:
        """The coordinator's progress counts (what the progress bar shows)."""
        return self.service.statistics()

    def alive_workers(self) -> list[str]:
        with self._lock:
            return [w.worker_id for w in self._workers.values() if w.process.is_alive()]

    @property
    def finished(self) -> bool:
        """True once the job is over and every worker has exited."""
        return self._finished.is_set()

    def wait(self, timeout_s: float = 120.0) -> JobResult:
        """Block until the job is done and the workers have exited; return the result."""
        if self._monitor is None:
            raise RuntimeError("wait() before start(): use `with Job(...) as job:` or run_job")
        if not self._finished.wait(timeout_s):
            stats = self.statistics()
            self.close()
            raise TimeoutError(
                f"job not finished after {timeout_s} s: {stats.done}/{stats.total} tasks done"
            )
        if self._problem or self.service.error:
            problem = self._problem or self.service.error
            self.close()
            raise MapReduceError(problem)
        return self._result()

    def _result(self) -> JobResult:
        opened = self._opened_at or 0.0
        events = [
            TaskEvent(
                e.at - opened,
                e.what,
                e.kind,
                e.task_id,
                e.worker_id,
                e.attempt,
                None if e.started is None else e.started - opened,
                None if e.finished is None else e.finished - opened,
                e.detail,
            )
            for e in self.service.events()
        ]
        runs = [
            TaskRun(
                e.worker_id, e.kind, e.task_id, e.attempt, e.started, e.finished, e.what == "done"
            )
            for e in events
            if e.what in ("done", "late") and e.started is not None and e.finished is not None
        ]
        done_at = self._done_at or time.monotonic()
        return JobResult(
            app_name=self.app.name,
            output=read_output(self.work_dir, self.n_reduce),
            statistics=self.statistics(),
            events=events,
            runs=runs,
            killed=list(self._killed),
            workers=sorted(self._workers, key=lambda name: int(name[1:])),
            exit_codes={name: w.process.exitcode for name, w in self._workers.items()},
            exited_at={
                name: None if w.exited_at is None else w.exited_at - opened
                for name, w in self._workers.items()
            },
            seconds=done_at - opened,
            work_dir=None if self._own_dir else self.work_dir,
            output_files=[output_name(r) for r in range(self.n_reduce)],
        )

    def close(self) -> None:
        """Stop everything: kill workers still running, close the server, remove temp files."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._monitor is not None:  # first, so it cannot start a replacement meanwhile
            self._monitor.join(timeout=5.0)
        for worker in list(self._workers.values()):
            worker.process.join(timeout=5.0 if self.service.finished else 0.0)
            if worker.process.is_alive():
                worker.process.kill()  # a stalled straggler: its task is done elsewhere
                worker.process.join(timeout=5.0)
        if self._server is not None:
            self._server.close()
        if self._work_dir is None:
            return
        for temp in self._work_dir.glob(TEMP_GLOB):  # left by writers killed mid-write
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()
        if self._remove_work_dir is not None:
            self._remove_work_dir()  # runs once: removes the folder start() made


def run_job(
    app: MapReduceApp,
    inputs: Sequence[str | os.PathLike[str]],
    n_reduce: int = 3,
    workers: int = 2,
    *,
    timeout_s: float = 120.0,
    **options: Any,
) -> JobResult:
    """Run ``app`` over ``inputs`` on ``workers`` processes and return the result.

    ``options`` go to :class:`Job` (``work_dir``, ``task_timeout_s``, ``restart_workers``,
    ``kill_plan``, ...).
    """
    with Job(app, inputs, n_reduce, workers, **options) as job:
        return job.wait(timeout_s)
