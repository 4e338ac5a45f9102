"""Scalability (可扩展性) of our MapReduce, measured: the same CPU-bound job on 1, 2, ... workers.

Each run starts its worker processes first and starts the clock only when every worker has
asked for a task (``Job(wait_for_workers=True)``), so process start-up is not counted as work.
The answer of every run is compared with the sequential reference.

Also measured: the coordinator's overhead per task, from a job of *empty* tasks (request over
RPC, an empty map or reduce that still writes its files atomically, report), and the bare RPC
round trip to the coordinator.

What it must never do: assert on speed. It reports figures; readers judge them, knowing the
machine's core count and load.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from distlab.mapreduce.apps import MapReduceApp, cpu_heavy_word_count, empty_app
from distlab.mapreduce.corpus import corpus_paths
from distlab.mapreduce.job import Job, run_job
from distlab.mapreduce.sequential import run_sequential

__all__ = ["Overhead", "ScalingReport", "measure_overhead", "measure_scaling"]


@dataclass(frozen=True)
class ScalingReport:
    """Median job time per worker count, measured in one run, and whether answers agree."""

    seconds: dict[int, float]
    answers_agree: bool
    tasks: int
    cpu_count: int

    def speedup(self, workers: int) -> float:
        return self.seconds[min(self.seconds)] / self.seconds[workers]

    def table(self) -> str:
        lines = ["workers  seconds  speed-up  ideal  efficiency"]
        for count, seconds in sorted(self.seconds.items()):
            speedup = self.speedup(count)
            lines.append(
                f"{count:>7}  {seconds:7.2f}  {speedup:7.2f}x  {count:4d}x  {speedup / count:9.0%}"
            )
        return "\n".join(lines)


def measure_scaling(
    worker_counts: Sequence[int] = (1, 2),
    *,
    app: MapReduceApp | None = None,
    inputs: Sequence[str | os.PathLike[str]] | None = None,
    n_reduce: int = 2,
    repeats: int = 1,
) -> ScalingReport:
    """Run the same job on each worker count ``repeats`` times; median seconds per count."""
    app = app or cpu_heavy_word_count(1000)
    inputs = [str(p) for p in (inputs or corpus_paths())]
    reference = run_sequential(app, inputs) if repeats else {}
    times: dict[int, list[float]] = {count: [] for count in worker_counts}
    agree = True
    for _ in range(repeats):
        for count in worker_counts:  # interleaved, so a burst of load hits every count
            result = run_job(app, inputs, n_reduce, count)
            times[count].append(result.seconds)
            agree = agree and result.output == reference
    return ScalingReport(
        seconds={count: statistics.median(values) for count, values in times.items()},
        answers_agree=agree,
        tasks=len(inputs) + n_reduce,
        cpu_count=os.cpu_count() or 1,
    )


@dataclass(frozen=True)
class Overhead:
    """The framework's own cost: per empty task, and per bare RPC to the coordinator."""

    tasks: int
    seconds_per_task: float
    rpc_round_trip_s: float


def measure_overhead(tasks: int = 60, n_reduce: int = 4, rpc_calls: int = 200) -> Overhead:
    """Time a job of empty tasks on one worker, and ``rpc_calls`` bare statistics() calls."""
    from distlab.rpc import Client

    with tempfile.TemporaryDirectory(prefix="distlab-mr-empty-") as scratch:
        inputs = []
        for index in range(tasks - n_reduce):
            path = Path(scratch) / f"empty-{index}.txt"
            path.write_text("")
            inputs.append(str(path))
        with Job(empty_app, inputs, n_reduce, 1) as job:
            result = job.wait(120.0)
            # The coordinator still serves after the job ends: time bare calls, undisturbed.
            client = Client(job.address, name="bench")
            try:
                client.call("Coordinator.statistics", timeout=5.0)  # connect first
                started = time.perf_counter()
                for _ in range(rpc_calls):
                    client.call("Coordinator.statistics", timeout=5.0)
                rpc_s = (time.perf_counter() - started) / rpc_calls
            finally:
                client.close()
    return Overhead(tasks, result.seconds / tasks, rpc_s)
