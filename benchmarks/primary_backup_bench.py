"""What do VMware FT's choices cost? Log shipping vs state transfer, and the output rule.

Three measurements, each against its baseline in the same run:

1. **Bytes per operation** on the logging channel, log shipping vs state transfer, for a small
   and a large state (appends of 8 bytes to a value of ``--small`` and ``--large`` bytes).
   Measured in the seeded simulator (`distlab.primary_backup.channel_cost`), so the figures
   are exact and the same on every machine.
2. **Operations per second** of the same workload on real processes (3 nodes: two replicas
   and the arbiter), log vs state, small and large: state transfer pays for copying and
   encoding the whole changed cell on every operation.
3. **Latency of the output rule**: p50 / p99 of one sequential client's appends on real
   processes, with the rule on and off (off is the baseline: replies leave before the backup
   holds the entry). Switching the rule off is a teaching switch; this shows what it saves.

Timings on a shared 2-core machine are noisy: compare ratios within one run, and repeat with
``--reps`` (the median is printed).

    .venv/bin/python benchmarks/primary_backup_bench.py
    .venv/bin/python benchmarks/primary_backup_bench.py --quick

Prints the tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from distlab.cluster import Cluster
from distlab.primary_backup import channel_cost


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _real_run(operations: int, value_bytes: int, **options: object) -> dict[str, float]:
    """One client's appends on a fresh 3-node cluster: ops/s and latency percentiles (ms)."""
    with Cluster.start(3, service="primary_backup", seed=1, **options) as cluster:
        client = cluster.client(client_id="bench")
        client.put("x", "v" * value_bytes)
        client.latencies_s.clear()
        started = time.monotonic()
        for i in range(operations):
            client.append("x", f"{i:08d}")
        elapsed = time.monotonic() - started
        latencies_ms = [s * 1000 for s in client.latencies_s]
    return {
        "ops_s": operations / elapsed,
        "p50_ms": _percentile(latencies_ms, 0.5),
        "p99_ms": _percentile(latencies_ms, 0.99),
    }


def _median_runs(reps: int, operations: int, value_bytes: int, **options: object) -> dict:
    runs = [_real_run(operations, value_bytes, **options) for _ in range(reps)]
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--small", type=int, default=16)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="fewer operations, one rep")
    args = parser.parse_args()
    if args.quick:
        args.operations, args.reps = 100, 1
    results: dict[str, object] = {}

    print("1. bytes per operation on the logging channel (simulator, exact)")
    print(f"{'state size':>12} {'log B/op':>10} {'state B/op':>11} {'state / log':>12}")
    for size in (args.small, args.large):
        log, state = channel_cost("log", size), channel_cost("state", size)
        ratio = state.bytes_per_operation / log.bytes_per_operation
        print(
            f"{size:>12} {log.bytes_per_operation:>10.0f} "
            f"{state.bytes_per_operation:>11.0f} {ratio:>11.1f}x"
        )
        results[f"bytes_per_op_{size}"] = {
            "log": log.bytes_per_operation,
            "state": state.bytes_per_operation,
        }

    print(f"\n2. operations per second, real processes ({args.operations} appends, median)")
    print(f"{'state size':>12} {'log ops/s':>10} {'state ops/s':>12} {'log / state':>12}")
    for size in (args.small, args.large):
        log = _median_runs(args.reps, args.operations, size, replication="log")
        state = _median_runs(args.reps, args.operations, size, replication="state")
        print(
            f"{size:>12} {log['ops_s']:>10.0f} {state['ops_s']:>12.0f} "
            f"{log['ops_s'] / state['ops_s']:>11.2f}x"
        )
        results[f"ops_s_{size}"] = {"log": log["ops_s"], "state": state["ops_s"]}

    print("\n3. latency of the output rule, real processes (log shipping, small state)")
    off = _median_runs(args.reps, args.operations, args.small, output_rule=False)
    on = _median_runs(args.reps, args.operations, args.small)
    print(f"{'':>19} {'p50 ms':>8} {'p99 ms':>8} {'ops/s':>8}")
    for label, row in (("rule off (baseline)", off), ("rule on", on)):
        print(f"{label:>19} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['ops_s']:>8.0f}")
    ratios = [on[key] / off[key] for key in ("p50_ms", "p99_ms", "ops_s")]
    print(f"{'on / off':>19} " + " ".join(f"{ratio:>7.2f}x" for ratio in ratios))
    results["output_rule"] = {"on": on, "off": off}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
