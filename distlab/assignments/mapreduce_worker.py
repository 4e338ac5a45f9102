"""Assignment 3 (MapReduce): the checks for a learner's worker loop, with crashing workers.

What it is: the learner writes ``worker(call, worker_id, app, work_dir)``: ask the
coordinator for a task with ``call("Coordinator.request_task", worker_id)``, run
it (a map task writes ``mr-<m>-<r>`` for every bucket r, a reduce task writes
``mr-out-<r>`` as ``key<TAB>value`` lines), report it with
``call("Coordinator.report_done", worker_id, kind, task_id, attempt, started,
finished)``, and repeat until told to exit. A user function that raises is
reported with ``call("Coordinator.report_failed", worker_id, kind, task_id,
attempt, message)``. `check_worker(worker)` runs six jobs and returns a `Verdict`.

How the checks run it: in this process, each worker a thread, against the
library's real `CoordinatorService` (``call`` goes straight to its RPC methods,
no sockets). A crash is a `WorkerCrash` raised inside the worker thread, from
the map or reduce function or from ``call`` (a report that never arrives); it is
a `BaseException`, so ``except Exception`` in the learner's code lets it pass,
as a real ``kill -9`` would. The checker then tells the coordinator the worker
is lost and starts a replacement. Crash points are fixed (the 2nd map call,
the 3rd key of reduce 1, ...), so the verdict is the same on every run; the
output is compared with `distlab.mapreduce.run_sequential`.

What it must never do: leave a thread or a temp directory behind (workers are
joined with a deadline, directories removed); print.
Where it fits: notebooks/assignments/source/03_mapreduce_worker.ipynb; chapter 04
runs the library's own worker (`distlab.mapreduce.worker.run_worker`) in processes.
"""

from __future__ import annotations

import queue
import random
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distlab.assignments.verdict import Verdict, run_checks
from distlab.mapreduce import Coordinator, MapReduceApp, run_sequential
from distlab.mapreduce.apps import word_count
from distlab.mapreduce.service import CoordinatorService
from distlab.mapreduce.tasks import intermediate_name, output_name, read_output

__all__ = ["WorkerCrash", "check_worker", "run_job"]

Worker = Callable[[Callable[..., Any], str, MapReduceApp, str], None]
JOB_DEADLINE_S = 30.0
MAX_REPLACEMENTS = 10


class WorkerCrash(BaseException):
    """The checker kills this worker here (a BaseException: ``except Exception`` won't stop it)."""


@dataclass
class CrashPlan:
    """Where workers crash: the n-th call (counted over the whole job) of each point."""

    map_calls: set[int] = field(default_factory=set)  # crash in the n-th map_fn call
    reduce_keys: set[tuple[int, int]] = field(default_factory=set)  # (reduce task, n-th key)
    lost_reports: set[int] = field(default_factory=set)  # crash instead of the n-th report_done
    failing_map_calls: set[int] = field(default_factory=set)  # ValueError in the n-th map call


@dataclass
class JobRun:
    """What a checked job did."""

    output: dict[str, str]
    expected: dict[str, str]
    crashes: int = 0
    reported_failures: int = 0
    partial_files_after_crash: list[str] = field(default_factory=list)
    worker_errors: list[str] = field(default_factory=list)


def _inputs(folder: Path, files: int = 4, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    vocabulary = [
        "raft", "paxos", "leader", "log", "term", "vote", "map", "reduce", "worker",
        "crash", "disk", "lock", "thread", "replica", "commit", "lease", "quorum",
    ]  # fmt: skip
    paths = []
    for index in range(files):
        path = folder / f"input-{index}.txt"
        lines = [" ".join(rng.choice(vocabulary) for _ in range(12)) for _ in range(30)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Any, int] = {}

    def next(self, key: Any = None) -> int:
        with self._lock:
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


def _crashing_app(app: MapReduceApp, plan: CrashPlan, n_reduce: int) -> MapReduceApp:
    """``app`` with the plan's crashes and failures built into its map and reduce functions."""
    from distlab.mapreduce.tasks import partition

    maps, keys = _Counter(), _Counter()

    def map_fn(filename: str, contents: str) -> Any:
        number = maps.next()
        if number in plan.failing_map_calls:
            raise ValueError(f"map_fn failed on purpose (call {number})")
        pairs = list(app.map_fn(filename, contents))
        if number in plan.map_calls:
            # Crash half-way through the output: a worker writing pairs as they come
            # would leave partial files behind.
            def emit_then_crash() -> Any:
                yield from pairs[: len(pairs) // 2]
                raise WorkerCrash(f"map call {number}")

            return emit_then_crash()
        return pairs

    def reduce_fn(key: str, values: list) -> str:
        task = partition(key, n_reduce)
        if (task, keys.next(task)) in plan.reduce_keys:
            raise WorkerCrash(f"reduce task {task}")
        return app.reduce_fn(key, values)

    return MapReduceApp(app.name, map_fn, reduce_fn)


def run_job(
    worker: Worker,
    *,
    workers: int = 1,
    n_reduce: int = 3,
    plan: CrashPlan | None = None,
    app: MapReduceApp = word_count,
) -> JobRun:
    """Run one job with ``workers`` threads of the learner's ``worker``; crash them per ``plan``."""
    plan = plan or CrashPlan()
    with tempfile.TemporaryDirectory(prefix="distlab-mr-check-") as scratch:
        folder = Path(scratch)
        inputs = _inputs(folder)
        work_dir = folder / "work"
        work_dir.mkdir()
        service = CoordinatorService(
            Coordinator(inputs, n_reduce, task_timeout_s=600.0, max_task_failures=3)
        )
        endpoint = service.endpoint()
        user_app = _crashing_app(app, plan, n_reduce)
        reports = _Counter()
        run = JobRun(output={}, expected=run_sequential(app, inputs))
        events: queue.Queue[tuple[str, str, BaseException | None]] = queue.Queue()

        def call(method: str, *args: Any) -> Any:
            service_name, _, name = method.partition(".")
            if service_name != "Coordinator" or name not in (
                "request_task",
                "report_done",
                "report_failed",
            ):
                raise ValueError(f"unknown RPC {method!r}")
            if name == "report_done" and reports.next() in plan.lost_reports:
                raise WorkerCrash("crashed before reporting")
            if name == "report_failed":
                run.reported_failures += 1
            return getattr(endpoint, name)(*args)

        def body(worker_id: str) -> None:
            try:
                worker(call, worker_id, user_app, str(work_dir))
            except WorkerCrash as crash:
                events.put(("crashed", worker_id, crash))
            except Exception as error:  # the learner's bug: reported in the verdict
                events.put(("error", worker_id, error))
            else:
                events.put(("exited", worker_id, None))

        threads: dict[str, threading.Thread] = {}

        def start(worker_id: str) -> None:
            thread = threading.Thread(target=body, args=(worker_id,), daemon=True)
            threads[worker_id] = thread
            thread.start()

        for index in range(workers):
            start(f"w{index}")
        running, started = workers, workers
        deadline = time.monotonic() + JOB_DEADLINE_S
        while running:
            try:
                kind, worker_id, problem = events.get(
                    timeout=max(0.01, deadline - time.monotonic())
                )
            except queue.Empty:
                raise AssertionError(
                    f"the job did not finish within {JOB_DEADLINE_S:.0f} s "
                    f"(maps and reduces done: {service.statistics()})"
                ) from None
            running -= 1
            if kind == "exited":
                continue
            if kind == "error":
                run.worker_errors.append(f"{type(problem).__name__}: {problem}")
            else:
                run.crashes += 1
                # What a crash left behind, before anyone redoes the task.
                held = service.holding().get(worker_id)
                if held is not None:
                    held_kind, task_id = held
                    names = (
                        [output_name(task_id)]
                        if held_kind == "reduce"
                        else [intermediate_name(task_id, r) for r in range(n_reduce)]
                    )
                    run.partial_files_after_crash += [
                        name for name in names if (work_dir / name).exists()
                    ]
            service.worker_lost(worker_id)
            if not service.finished and started < workers + MAX_REPLACEMENTS:
                start(f"w{started}")
                started += 1
                running += 1
        for thread in threads.values():
            thread.join(1.0)
        if run.worker_errors:
            raise AssertionError(f"a worker raised {run.worker_errors[0]}")
        if service.error is not None:
            raise AssertionError(f"the job failed: {service.error}")
        if not service.done:
            raise AssertionError("every worker exited but the job is not done")
        run.output = read_output(work_dir, n_reduce)
        return run


def _same_output(run: JobRun) -> None:
    if run.output != run.expected:
        wrong = sorted(
            key for key in run.expected.keys() | run.output.keys()
            if run.output.get(key) != run.expected.get(key)
        )  # fmt: skip
        key = wrong[0]
        raise AssertionError(
            f"{len(wrong)} keys differ from the sequential run, e.g. {key!r}: "
            f"got {run.output.get(key)!r}, expected {run.expected.get(key)!r}"
        )


def _one_worker(worker: Worker) -> None:
    _same_output(run_job(worker, workers=1))


def _three_workers(worker: Worker) -> None:
    _same_output(run_job(worker, workers=3))


def _crashes(worker: Worker) -> None:
    plan = CrashPlan(map_calls={2}, reduce_keys={(1, 3)})
    run = run_job(worker, workers=2, plan=plan)
    assert run.crashes == 2, f"expected 2 crashes, saw {run.crashes}"
    _same_output(run)


def _lost_reports(worker: Worker) -> None:
    plan = CrashPlan(lost_reports={1, 5})
    run = run_job(worker, workers=2, plan=plan)
    assert run.crashes == 2, f"expected 2 crashes at report time, saw {run.crashes}"
    _same_output(run)


def _no_partial_files(worker: Worker) -> None:
    plan = CrashPlan(map_calls={3}, reduce_keys={(0, 4)})
    run = run_job(worker, workers=1, plan=plan)
    assert not run.partial_files_after_crash, (
        f"a crash mid-task left {run.partial_files_after_crash[0]} behind: write each file "
        "completely under a temporary name, then rename it (write_atomic)"
    )
    _same_output(run)


def _reported_failure(worker: Worker) -> None:
    run = run_job(worker, workers=1, plan=CrashPlan(failing_map_calls={2}))
    assert run.reported_failures == 1, (
        f"the map function raised once; report_failed was called {run.reported_failures} times"
    )
    _same_output(run)


def check_worker(worker: Worker) -> Verdict:
    """Run the six checks against ``worker(call, worker_id, app, work_dir)``."""
    return run_checks(
        "Assignment 3: a MapReduce worker (word count, 4 inputs, 3 reduce tasks)",
        [
            ("one worker: the same output as a sequential run", lambda: _one_worker(worker)),
            ("three workers at once: the same output", lambda: _three_workers(worker)),
            ("workers crash inside map and reduce: replacements finish", lambda: _crashes(worker)),
            ("a crash before the report: the task is redone safely", lambda: _lost_reports(worker)),
            ("a crash mid-task leaves no partial output file", lambda: _no_partial_files(worker)),
            (
                "a map function that raises is reported and retried",
                lambda: _reported_failure(worker),
            ),
        ],
    )
