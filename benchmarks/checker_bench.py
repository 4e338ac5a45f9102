"""The linearizability checker, measured on 10 clients x 10,000 operations x 10 keys.

Four seeded histories from distlab.check.generate: correct; with injected stale reads;
with many indefinite (timed-out) and failed operations; and both. For each: the checker's
time (best and median of --repeats runs, explanation included), its peak Python memory
(tracemalloc, in a separate run because tracing slows it down), its verdict, and
operations per second. Baselines measured in the same run: the same search without its
memoization cache (bounded by --baseline-budget seconds; "unknown" means it ran out), and
brute force against WGL on a small history. A final JSON line holds the figures.

    .venv/bin/python benchmarks/checker_bench.py --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc

from distlab.check import History, brute_force_linearizable, check_linearizable
from distlab.check.generate import inject_stale_reads, simulate


def histories(seed: int, clients: int, operations: int, keys: int) -> dict[str, History]:
    shape = {"clients": clients, "operations": operations, "keys": keys}
    correct = simulate(seed, **shape)
    indefinite = simulate(seed, **shape, indefinite_fraction=0.3, fail_fraction=0.05)
    return {
        "correct": correct,
        "stale_reads": inject_stale_reads(correct, count=10, seed=seed),
        "indefinite": indefinite,
        "indefinite_stale": inject_stale_reads(indefinite, count=10, seed=seed),
    }


def timed(history: History, **kwargs) -> tuple[float, str]:
    started = time.perf_counter()
    result = check_linearizable(history, **kwargs)
    return time.perf_counter() - started, result.verdict


def peak_memory_mb(history: History) -> float:
    tracemalloc.start()
    try:
        check_linearizable(history, timeout_s=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


def small_brute_force_baseline(seed: int, operations: int = 12) -> dict:
    """WGL vs brute force on a small one-key history with one stale read (a violation).

    A violation is the worst case for brute force: it must try every order to refute.
    """
    base = simulate(seed, clients=3, operations=operations, keys=1, duration_max=30, gap_max=2)
    small = inject_stale_reads(base, count=1, seed=seed)
    runs = 5
    started = time.perf_counter()
    for _ in range(runs):
        brute = brute_force_linearizable(small)
    brute_s = (time.perf_counter() - started) / runs
    started = time.perf_counter()
    for _ in range(runs):
        wgl = check_linearizable(small).verdict == "ok"
    wgl_s = (time.perf_counter() - started) / runs
    return {
        "operations": operations,
        "linearizable": wgl,
        "brute_force_s": brute_s,
        "wgl_s": wgl_s,
        "agree": brute == wgl,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--operations", type=int, default=10_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--baseline-budget", type=float, default=10.0)
    args = parser.parse_args()

    cases = histories(args.seed, args.clients, args.operations, args.keys)
    print(
        f"{args.clients} clients x {args.operations} operations x {args.keys} keys, "
        f"seed {args.seed}, {args.repeats} repeats"
    )
    header = (
        f"{'history':<17}{'verdict':<11}{'best s':>8}{'median s':>10}{'ops/s':>10}"
        f"{'peak MB':>9}   {'no-memo s':>10} {'(verdict)':<10}"
    )
    print(header)
    print("-" * len(header))
    figures: dict = {"shape": vars(args), "histories": {}}
    for name, history in cases.items():
        runs = [timed(history, timeout_s=120) for _ in range(args.repeats)]
        seconds = [s for s, _ in runs]
        verdict = runs[0][1]
        memory = peak_memory_mb(history)
        no_memo_s, no_memo_verdict = timed(
            history, timeout_s=args.baseline_budget, memoize=False, explain=False
        )
        best, median = min(seconds), statistics.median(seconds)
        print(
            f"{name:<17}{verdict:<11}{best:>8.3f}{median:>10.3f}"
            f"{len(history) / median:>10.0f}{memory:>9.1f}   {no_memo_s:>10.3f} "
            f"({no_memo_verdict})"
        )
        figures["histories"][name] = {
            "operations": len(history),
            "verdict": verdict,
            "best_s": round(best, 4),
            "median_s": round(median, 4),
            "ops_per_s": round(len(history) / median),
            "peak_mb": round(memory, 2),
            "no_memo_s": round(no_memo_s, 4),
            "no_memo_verdict": no_memo_verdict,
        }
    small = small_brute_force_baseline(args.seed)
    print(
        f"baseline, {small['operations']} ops with a stale read: "
        f"brute force {small['brute_force_s'] * 1e3:.2f} ms, "
        f"WGL {small['wgl_s'] * 1e3:.2f} ms, same verdict: {small['agree']}"
    )
    figures["small_baseline"] = {
        k: round(v, 6) if isinstance(v, float) else v for k, v in small.items()
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
