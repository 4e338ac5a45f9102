"""The deterministic Raft simulator's speed: randomized fault schedules per second.

Run:  .venv/bin/python benchmarks/sim_bench.py [--repeats 3] [--seeds-small 150] [--seeds-large 60]

A benchmark, not a test: it prints a table and a final JSON line; it asserts nothing. Two
configurations of `distlab.sim.run_random_schedule` with its default fault and proposal
rates (and snapshots every 10 entries), each over a fixed range of seeds (0, 1, 2, ...):

* small: 3 nodes x 200 ticks;
* large: 5 nodes x 300 ticks (the function's defaults).

Every schedule checks Raft's safety properties after every event, so these figures include
the checker. For each configuration it reports the median of ``--repeats`` passes over the
seeds: schedules/s, and, so that the figure means something without a baseline, simulated
ticks/s and messages/s (messages sent by the nodes; each is also drawn on by the network
and, if it arrives, handled by a node and checked). The same seeds give the same schedules
on every machine, so two runs (say, before and after a change) do the same work.

Then the same seeds through `distlab.sim.sweep` on every core (worker start-up included),
with the ratio to one process.

The machine is shared and has two cores: run it more than once and compare runs made close
together. Schedules per CPU second (process time) are printed too: other processes slow
the wall clock figures far more than that one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distlab.sim import run_random_schedule, sweep


def one_pass(seeds: range, nodes: int, ticks: int) -> tuple[float, float, int, int]:
    """Run every seed once: (wall seconds, CPU seconds, simulated ticks, messages sent)."""
    wall, cpu = time.perf_counter(), time.process_time()
    total_ticks = 0
    messages = 0
    for seed in seeds:
        result = run_random_schedule(seed, nodes=nodes, ticks=ticks)
        total_ticks += result.ticks
        messages += result.messages_sent
    return time.perf_counter() - wall, time.process_time() - cpu, total_ticks, messages


def measure(seeds: range, nodes: int, ticks: int, repeats: int) -> dict[str, float]:
    """Median of ``repeats`` passes, as rates per second (wall clock, and CPU time)."""
    passes = [one_pass(seeds, nodes, ticks) for _ in range(repeats)]
    seconds = statistics.median(p[0] for p in passes)
    cpu_seconds = statistics.median(p[1] for p in passes)
    # The work is the same in every pass (same seeds): take its counts from the first.
    _, _, total_ticks, messages = passes[0]
    return {
        "seeds": len(seeds),
        "seconds": round(seconds, 3),
        "schedules_per_s": round(len(seeds) / seconds, 1),
        "ticks_per_s": round(total_ticks / seconds),
        "messages_per_s": round(messages / seconds),
        "cpu_seconds": round(cpu_seconds, 3),
        "schedules_per_cpu_s": round(len(seeds) / cpu_seconds, 1),
        "messages_per_schedule": round(messages / len(seeds), 1),
    }


def on_every_core(seeds: range, nodes: int, ticks: int, repeats: int) -> dict[str, float]:
    """`distlab.sim.sweep` over the same seeds on every core (median of ``repeats``); its
    wall time includes starting the worker processes."""
    reports = [sweep(seeds, nodes=nodes, ticks=ticks) for _ in range(repeats)]
    assert all(report.ok for report in reports)
    seconds = statistics.median(report.seconds for report in reports)
    return {
        "workers": reports[0].workers,
        "seconds": round(seconds, 3),
        "schedules_per_s": round(len(seeds) / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds-small", type=int, default=150, help="seeds for 3 nodes x 200")
    parser.add_argument("--seeds-large", type=int, default=60, help="seeds for 5 nodes x 300")
    args = parser.parse_args()

    configurations = {
        "3x200": (range(args.seeds_small), 3, 200),
        "5x300": (range(args.seeds_large), 5, 300),
    }
    print(
        f"run_random_schedule, median of {args.repeats} passes, "
        f"load {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}"
    )
    print(
        f"{'nodes x ticks':<14}{'seeds':>6}{'schedules/s':>13}{'ticks/s':>10}"
        f"{'messages/s':>12}{'schedules/CPU s':>17}"
    )
    figures: dict[str, dict[str, float]] = {}
    for name, (seeds, nodes, ticks) in configurations.items():
        row = measure(seeds, nodes, ticks, args.repeats)
        figures[name] = row
        print(
            f"{name:<14}{row['seeds']:>6}{row['schedules_per_s']:>13.1f}"
            f"{row['ticks_per_s']:>10}{row['messages_per_s']:>12}"
            f"{row['schedules_per_cpu_s']:>17.1f}"
        )
    print("\nthe same seeds through distlab.sim.sweep on every core (x: vs one process above)")
    for name, (seeds, nodes, ticks) in configurations.items():
        row = on_every_core(seeds, nodes, ticks, args.repeats)
        figures[name + "_every_core"] = row
        speedup = row["schedules_per_s"] / figures[name]["schedules_per_s"]
        print(
            f"{name:<14}{len(seeds):>6}{row['schedules_per_s']:>13.1f}"
            f"   on {row['workers']} workers: {speedup:.2f}x"
        )
    figures_line = {"repeats": args.repeats, "load_1min": round(os.getloadavg()[0], 2), **figures}
    print(json.dumps(figures_line))


if __name__ == "__main__":
    main()
