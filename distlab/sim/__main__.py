"""``python -m distlab.sim sweep``: many randomized Raft fault schedules on every core.

    python -m distlab.sim sweep --seeds 0:2000 --nodes 3 --ticks 200 [--workers 2]

Prints progress (a tqdm bar, only when stderr is a terminal), then the report (each failing
seed with its message); the exit status is 1 when a schedule failed, so a shell script or
CI job can run it as a check.
"""

from __future__ import annotations

import argparse
import sys

from distlab.sim.sweep import ProgressBar, sweep


def _seed_range(text: str) -> range:
    try:
        if ":" in text:
            first, _, last = text.partition(":")
            return range(int(first), int(last))
        return range(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds wants START:STOP (e.g. 0:2000) or a count, got {text!r}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m distlab.sim", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("sweep", help="run randomized fault schedules, report failures")
    run.add_argument("--seeds", type=_seed_range, default=range(1000), help="START:STOP or N")
    run.add_argument("--nodes", type=int, default=5)
    run.add_argument("--ticks", type=int, default=300)
    run.add_argument("--fault-rate", type=float, default=0.03)
    run.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    run.add_argument("--stop-after", type=int, default=None, help="stop after N failures")
    args = parser.parse_args(argv)
    report = sweep(
        args.seeds,
        workers=args.workers,
        stop_after=args.stop_after,
        progress=ProgressBar(),
        nodes=args.nodes,
        ticks=args.ticks,
        fault_rate=args.fault_rate,
    )
    print(report)
    if report.failures:
        seed = report.failures[0][0]
        print(
            f"replay one: python -c 'from distlab.sim import run_random_schedule; "
            f"run_random_schedule({seed}, nodes={args.nodes}, ticks={args.ticks}, "
            f"fault_rate={args.fault_rate})'"
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
