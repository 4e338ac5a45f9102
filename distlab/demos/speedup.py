"""Does 2x computers give 2x throughput? Measure it with real worker processes.

Lecture 1's promise of scalability (可扩展性) is that adding machines adds
throughput (吞吐量). Here the "machines" are worker processes on this computer:
the same CPU-bound job is split into equal tasks and run on 1, 2, ... workers,
and the wall-clock speed-up is compared with the ideal line.

What it must never do: time process start-up as if it were work. Each pool is
started and warmed before the clock starts, so the figure measures the job
(plus the real cost of shipping tasks and results between processes).

Where it fits: chapter 01 plots these figures; chapter 04 (MapReduce) asks the
same question of a real coordinator and workers over RPC.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import multiprocess

# Processes are started with "spawn" everywhere in distlab: forking a kernel or a
# multi-threaded test runner copies its threads' locks in whatever state they are.
SPAWN = multiprocess.get_context("spawn")

MAIN_GUARD_HINT = (
    "In a script, run this under `if __name__ == '__main__':` -- the spawn start method "
    "re-imports the main module in every new process, so unguarded code would start "
    "processes again from inside the children"
)


def count_primes(bounds: tuple[int, int]) -> int:
    """Count primes in [low, high) by trial division: deliberately CPU-bound, pure Python."""
    low, high = bounds
    found = 0
    for candidate in range(max(low, 2), high):
        if candidate % 2 == 0:
            found += candidate == 2
            continue
        divisor = 3
        while divisor * divisor <= candidate:
            if candidate % divisor == 0:
                break
            divisor += 2
        else:
            found += 1
    return found


def split_range(high: int, parts: int) -> list[tuple[int, int]]:
    """Split [0, high) into `parts` ranges of equal width (the last one takes the rest)."""
    if parts < 1:
        raise ValueError(f"parts must be at least 1, got {parts}")
    width = high // parts
    edges = [i * width for i in range(parts)] + [high]
    return list(itertools.pairwise(edges))


def _warm(_: int) -> int:
    return os.getpid()


@dataclass(frozen=True)
class SpeedupRun:
    """Figures for one worker count: the median job time and the answer it computed."""

    workers: int
    seconds: float
    answer: int


@dataclass(frozen=True)
class SpeedupReport:
    """Speed-up of the same job on several worker counts, measured in one run."""

    runs: tuple[SpeedupRun, ...]
    cpu_count: int
    tasks: int

    @property
    def baseline(self) -> SpeedupRun:
        return next(run for run in self.runs if run.workers == 1)

    def speedup(self, workers: int) -> float:
        """Time on one worker divided by time on `workers` workers (ideal: `workers`)."""
        run = next(run for run in self.runs if run.workers == workers)
        return self.baseline.seconds / run.seconds

    @property
    def answers_agree(self) -> bool:
        """Did every worker count compute the same answer? (Parallelism must not change it.)"""
        return len({run.answer for run in self.runs}) == 1

    def table(self) -> str:
        lines = [f"{'workers':>7}  {'seconds':>8}  {'speed-up':>8}  {'ideal':>5}"]
        for run in self.runs:
            lines.append(
                f"{run.workers:>7}  {run.seconds:>8.3f}  {self.speedup(run.workers):>7.2f}x"
                f"  {run.workers:>4}x"
            )
        return "\n".join(lines)


def _open_pool(workers: int, start_timeout_s: float = 120.0) -> Any:
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    pool = SPAWN.Pool(workers)
    # Start-up is not work: make every worker import distlab before timing. A worker that
    # dies while starting (the unguarded script of MAIN_GUARD_HINT) would be replaced by the
    # pool forever; watch for that and say why instead of hanging.
    warm = pool.map_async(_warm, range(workers * 2), chunksize=1)
    deadline = time.monotonic() + start_timeout_s
    started: set[int] = set()  # every worker process the pool has started so far
    while not warm.ready():
        warm.wait(0.05)
        started.update(p.pid for p in list(pool._pool) if p.pid is not None)
        # The pool quietly replaces a worker that dies, so count the workers it started:
        # more than twice the pool size before the first tasks ran means they keep dying.
        if len(started) > 2 * workers or time.monotonic() > deadline:
            pool.terminate()
            pool.join()
            what = "workers kept dying" if len(started) > 2 * workers else "workers did not start"
            raise RuntimeError(f"{what} while starting. {MAIN_GUARD_HINT}")
    warm.get()
    return pool


def _time_once(pool: Any, tasks: Sequence[tuple[int, int]], job: Callable) -> tuple[float, int]:
    started = time.perf_counter()
    answer = sum(pool.map(job, tasks, chunksize=1))
    return time.perf_counter() - started, answer


def measure_speedup(
    worker_counts: Sequence[int] = (1, 2),
    *,
    high: int = 400_000,
    tasks: int = 8,
    repeats: int = 3,
    progress: Callable[[str], None] | None = None,
) -> SpeedupReport:
    """Count the primes below `high`, split into `tasks` equal ranges, on each worker count.

    Worker counts above the number of CPUs are allowed on purpose: they show the
    speed-up flattening once every core is busy. Repetitions are interleaved (1, 2, ...,
    1, 2, ...) so that a burst of load from another program on this machine slows every
    worker count alike instead of skewing the one that happened to be running.
    """
    if 1 not in worker_counts:
        raise ValueError("worker_counts must include 1: it is the baseline")
    ranges = split_range(high, tasks)
    timings: dict[int, list[float]] = {workers: [] for workers in worker_counts}
    answers: dict[int, int] = {}
    with contextlib.ExitStack() as stack:
        pools = {}
        for workers in worker_counts:
            pools[workers] = _open_pool(workers)
            stack.callback(pools[workers].terminate)
        for round_number in range(1, repeats + 1):
            if progress:
                progress(f"round {round_number}/{repeats}: timing {list(worker_counts)} worker(s)")
            for workers in worker_counts:
                seconds, answers[workers] = _time_once(pools[workers], ranges, count_primes)
                timings[workers].append(seconds)
    runs = [
        SpeedupRun(workers, statistics.median(timings[workers]), answers[workers])
        for workers in worker_counts
    ]
    return SpeedupReport(runs=tuple(runs), cpu_count=os.cpu_count() or 1, tasks=tasks)
