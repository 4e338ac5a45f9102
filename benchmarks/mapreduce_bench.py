"""MapReduce scalability: the same CPU-bound job on 1 and 2 workers, and the cost per task.

Prints each worker count's median job time beside the 1-worker baseline measured in the same
run, the speed-up against the ideal (N workers = N×), the coordinator's overhead per task (a
job of empty tasks on one worker: request over RPC, an empty task that still writes its files
atomically, report) and the bare RPC round trip, then a final JSON line.

    .venv/bin/python benchmarks/mapreduce_bench.py --workers 1 2 --repeats 3

Timings depend on the machine's load; the speed-up cannot exceed the number of free cores.
"""

from __future__ import annotations

import argparse
import json
import os

from distlab.mapreduce import cpu_heavy_word_count
from distlab.mapreduce.scaling import measure_overhead, measure_scaling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=1000, help="CPU work per word")
    parser.add_argument("--n-reduce", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--empty-tasks", type=int, default=60)
    args = parser.parse_args()

    report = measure_scaling(
        args.workers,
        app=cpu_heavy_word_count(args.rounds),
        n_reduce=args.n_reduce,
        repeats=args.repeats,
    )
    print(
        f"CPU-bound word count ({args.rounds} rounds/word), {report.tasks} tasks, "
        f"median of {args.repeats}, {report.cpu_count} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    print(report.table())
    print(f"answers equal the sequential run: {report.answers_agree}")
    overhead = measure_overhead(tasks=args.empty_tasks)
    print(
        f"coordinator overhead: {overhead.seconds_per_task * 1000:.1f} ms per empty task "
        f"({overhead.tasks} tasks, 1 worker); bare RPC round trip "
        f"{overhead.rpc_round_trip_s * 1e6:.0f} µs"
    )
    top = max(args.workers)
    figures = {
        "cpu_count": report.cpu_count,
        "seconds": {n: round(s, 3) for n, s in report.seconds.items()},
        "speedup": {n: round(report.speedup(n), 3) for n in report.seconds},
        "ideal": {n: n for n in report.seconds},
        "target_met_2x_1.7": report.speedup(2) >= 1.7 if 2 in report.seconds else None,
        "answers_agree": report.answers_agree,
        "ms_per_empty_task": round(overhead.seconds_per_task * 1000, 2),
        "rpc_round_trip_us": round(overhead.rpc_round_trip_s * 1e6, 1),
        "load_1min": round(os.getloadavg()[0], 2),
        "max_workers": top,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
