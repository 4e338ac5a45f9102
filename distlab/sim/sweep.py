"""Seed sweeps: many randomized fault schedules, on every core, with every failure's seed.

    from distlab.sim import sweep
    report = sweep(range(2000), nodes=3, ticks=200)     # on every core
    print(report)            # 2000 schedules, 0 failures in 10.1 s (198/s on 2 workers)
    report.failures          # ((seed, "SafetyViolation", "..."), ...): replay one with
                             # run_random_schedule(seed, nodes=3, ticks=200)

or, from a shell (exit status 1 when a schedule fails)::

    python -m distlab.sim sweep --seeds 0:2000 --nodes 3 --ticks 200

What it is: `run_random_schedule` over a range of seeds, the seeds dealt out in small
chunks to worker processes (spawned with ``multiprocess``, so a ``node_cls`` defined in a
notebook cell travels too). A seed fixes everything about its schedule, so each seed gives
the same result whichever worker runs it: the report is the same on 1 worker or 8, only
sooner. One schedule is a single-threaded Python loop (about a hundred small ones per
second on this course's machines), so more cores is the way to thousands.

What it must never do: hide a failure (each failing seed is listed with its message, and the
sweep goes on to the end unless ``stop_after`` failures were found), or leave a worker
process behind, whatever happens (the pool is terminated and joined on the way out).

Where it fits: ``tests/raft/test_sweep.py`` sweeps with it; ``__main__`` is its CLI.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from typing import Any

from distlab.sim.faults import ScheduleResult, run_random_schedule
from distlab.sim.safety import SimulationFailure

__all__ = ["ProgressBar", "SweepReport", "sweep"]

Failure = tuple[int, str, str]  # (seed, exception type name, message)


@dataclass(frozen=True)
class SweepReport:
    """What a sweep found. ``results`` holds the schedules that passed, in seed order."""

    schedules: int
    results: tuple[ScheduleResult, ...]
    failures: tuple[Failure, ...]
    seconds: float
    workers: int
    options: dict[str, Any]

    @property
    def ok(self) -> bool:
        """Did every schedule pass?"""
        return not self.failures

    @property
    def per_second(self) -> float:
        """Schedules per second of wall-clock time."""
        return self.schedules / self.seconds if self.seconds > 0 else 0.0

    def __str__(self) -> str:
        worker_s = "worker" if self.workers == 1 else "workers"
        lines = [
            f"{self.schedules} schedules, {len(self.failures)} failures in "
            f"{self.seconds:.1f} s ({self.per_second:.0f}/s on {self.workers} {worker_s})"
        ]
        for seed, kind, message in self.failures[:10]:
            first_line = message.splitlines()[0] if message else ""
            lines.append(f"  seed {seed}: {kind}: {first_line[:160]}")
        if len(self.failures) > 10:
            lines.append(f"  ... and {len(self.failures) - 10} more")
        return "\n".join(lines)


class ProgressBar:
    """A ``progress`` for `sweep`: a tqdm bar on stderr -- a widget in a notebook
    (``tqdm.auto``), a redrawn line in a terminal, and nothing at all when stderr is a log
    file or a pipe (CI), where a redrawn line would become one enormous line."""

    def __init__(self, unit: str = "schedule") -> None:
        self.unit = unit
        self._bar: Any = None

    def __call__(self, done: int, total: int) -> None:
        from tqdm.auto import tqdm  # only a learner who asks for progress pays the import

        if self._bar is None:
            self._bar = tqdm(total=total, unit=self.unit, file=sys.stderr, disable=None)
        self._bar.update(done - self._bar.n)
        if done >= total:
            self._bar.close()


def sweep(
    seeds: Iterable[int],
    *,
    workers: int | None = None,
    stop_after: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk: int = 20,
    **options: Any,
) -> SweepReport:
    """Run ``run_random_schedule(seed, **options)`` for every seed; report passes and failures.

    ``workers``: processes to use (default: every core; 1 runs in this process, no
    start-up cost). ``stop_after``: stop once that many schedules failed (default: run
    them all). ``progress(done, total)`` is called as chunks finish. ``options`` go to
    `run_random_schedule` (``nodes``, ``ticks``, ``fault_rate``, ``node_cls``, ...).
    """
    chosen = list(seeds)
    if not all(type(seed) is int for seed in chosen):
        raise TypeError("sweep() seeds must be integers")
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    chunks = [chosen[i : i + chunk] for i in range(0, len(chosen), chunk)]
    workers = max(1, min(workers, len(chunks)))
    results: list[ScheduleResult] = []
    failures: list[Failure] = []
    done = 0
    start = time.perf_counter()
    # closing(): leaving the loop early (stop_after) shuts the worker pool down at once.
    with contextlib.closing(_run_chunks(chunks, workers, options)) as finished:
        for chunk_results, chunk_failures in finished:
            results.extend(chunk_results)
            failures.extend(chunk_failures)
            done += len(chunk_results) + len(chunk_failures)
            if progress is not None:
                progress(done, len(chosen))
            if stop_after is not None and len(failures) >= stop_after:
                break
    return SweepReport(
        schedules=done,
        results=tuple(sorted(results, key=lambda result: result.seed)),
        failures=tuple(sorted(failures)),
        seconds=time.perf_counter() - start,
        workers=workers,
        options=dict(options),
    )


def _run_chunk(seeds: list[int], options: dict[str, Any]) -> tuple[list, list]:
    passed: list[ScheduleResult] = []
    failed: list[Failure] = []
    for seed in seeds:
        try:
            passed.append(run_random_schedule(seed, **options))
        except SimulationFailure as failure:
            failed.append((seed, type(failure).__name__, str(failure)))
    return passed, failed


def _run_chunks(
    chunks: list[list[int]], workers: int, options: dict[str, Any]
) -> Generator[tuple[list, list], None, None]:
    if workers == 1:
        for seeds in chunks:
            yield _run_chunk(seeds, options)
        return
    import multiprocess  # dill pickling: a node class defined in a notebook cell travels

    # spawn, not fork: the caller may be a notebook kernel or a test run with threads.
    pool = multiprocess.get_context("spawn").Pool(workers)
    try:
        pending = [pool.apply_async(_run_chunk, (seeds, options)) for seeds in chunks]
        for result in pending:
            yield result.get(timeout=600)
    finally:
        pool.terminate()
        pool.join()
