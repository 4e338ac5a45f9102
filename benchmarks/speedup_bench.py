"""Lecture 1's scalability question, measured: one CPU-bound job on 1..N worker processes.

Prints each worker count's median time beside the 1-worker baseline measured in
the same run, the speed-up against the ideal, and a final JSON line. With
--plot PATH it also saves the picture used in the README.

    .venv/bin/python benchmarks/speedup_bench.py --workers 1 2 3 4 --plot docs/speedup.png
"""

from __future__ import annotations

import argparse
import json

from distlab.demos.speedup import measure_speedup
from distlab.viz.speedup import plot_speedup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--high", type=int, default=800_000, help="count primes below this")
    parser.add_argument("--tasks", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--plot", help="save the speed-up plot to this PNG path")
    args = parser.parse_args()

    report = measure_speedup(
        args.workers, high=args.high, tasks=args.tasks, repeats=args.repeats, progress=print
    )
    print(report.table())
    print(f"CPUs: {report.cpu_count}; answers agree: {report.answers_agree}")
    if args.plot:
        counts = [run.workers for run in report.runs]
        figure = plot_speedup(
            counts, [report.speedup(n) for n in counts], cpu_count=report.cpu_count
        )
        figure.savefig(args.plot)
        print(f"saved {args.plot}")
    figures = {
        "cpu_count": report.cpu_count,
        "seconds": {run.workers: round(run.seconds, 4) for run in report.runs},
        "speedup": {run.workers: round(report.speedup(run.workers), 3) for run in report.runs},
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
