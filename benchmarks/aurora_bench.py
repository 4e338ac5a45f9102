"""The log is the database: Aurora's log shipping vs a mirrored database's page shipping.

Contenders, measured one after the other in one run with the same write-only closed-loop
workload (one-to-three-page transactions in the simulator, one-page ones on real clusters):

  log W=4    Aurora: only redo log records cross the network, to six storage nodes in three
             zones; a transaction commits when four of six hold it
  pages W=6  the baseline the paper compares against: a mirrored database that ships each
             written page whole (8 KiB) beside its log record, and waits for every replica
  log W=6    Aurora's code with all six as the write quorum: the tail-tolerance contrast
  frozen     (real processes only) log W=4 with storage node n3 stopped (SIGSTOP) before
             the writer boots: its connections to n3 hang, and must hold up no commit

Part 1 (the simulator, exact accounting): bytes on the wire and fsyncs per transaction,
commit latency p50/p99 in ticks with storage node n3 answering 20 ticks late, and
throughput per 1,000 ticks. Part 2 (real processes, seven per cluster): commit latency
p50/p99 in ms with n3's disk slowed by ``--slow-ms`` (``Aurora.set_slow``), throughput,
fsyncs per commit counted by the storage nodes. Compare ratios within one run; absolute
times depend on the machine (and on whatever else is running on it).

    .venv/bin/python benchmarks/aurora_bench.py
    .venv/bin/python benchmarks/aurora_bench.py --quick       # 1 s per real run

Prints two tables and the ratios, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from distlab.aurora import measure
from distlab.aurora.node import set_slow
from distlab.aurora.scenarios import measure_real
from distlab.cluster import Cluster


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--slow-ms", type=float, default=40.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 1.0
    if args.seconds <= 0 or args.clients < 1 or args.slow_ms < 0:
        parser.error("seconds must be positive, clients at least 1, slow-ms not negative")

    simulated = [
        measure("log"),
        measure("pages"),
        measure("log", slow={"n3": 20}),
        measure("log", write_quorum=6, slow={"n3": 20}),
    ]
    print("Part 1 -- simulator (per committed transaction; latency in ticks)")
    print(f"{'design':28} {'bytes/txn':>10} {'fsyncs/txn':>10} {'p50':>5} {'p99':>5} {'txn/1k':>7}")
    for m in simulated:
        print(
            f"{m.design:28} {m.bytes_per_txn:10.0f} {m.fsyncs_per_txn:10.2f} "
            f"{m.p50_ticks:5.0f} {m.p99_ticks:5.0f} {m.txns_per_1000_ticks:7.0f}"
        )
    log, pages, slow4, slow6 = simulated
    print(
        f"page shipping sends {pages.bytes_per_txn / log.bytes_per_txn:.1f}x the bytes and "
        f"{pages.fsyncs_per_txn / log.fsyncs_per_txn:.1f}x the fsyncs of log shipping; "
        f"with one slow node, W=6's p99 is {slow6.p99_ticks / slow4.p99_ticks:.1f}x W=4's"
    )

    real = []
    for design, options, fault in (
        ("log W=4", {"shipping": "log", "write_quorum": 4}, ""),
        ("pages W=6", {"shipping": "pages", "write_quorum": 6}, ""),
        (f"log W=4 slow n3 {args.slow_ms:g} ms", {"shipping": "log", "write_quorum": 4}, "slow"),
        (f"log W=6 slow n3 {args.slow_ms:g} ms", {"shipping": "log", "write_quorum": 6}, "slow"),
        ("log W=4 n3 frozen", {"shipping": "log", "write_quorum": 4}, "frozen"),
    ):
        with Cluster.start(7, service="aurora", seed=1, **options) as cluster:
            if fault == "slow":
                set_slow(cluster, "n3", args.slow_ms)
            elif fault == "frozen":
                cluster.pause("n3")
                cluster.crash("n0")
                cluster.restart("n0")  # a writer with no connection to n3 yet
            real.append(measure_real(cluster, design, seconds=args.seconds, clients=args.clients))
    print("\nPart 2 -- real processes (latency in ms)")
    print(f"{'design':28} {'commits':>8} {'p50':>7} {'p99':>7} {'commits/s':>10} {'fsyncs':>7}")
    for m in real:
        print(
            f"{m.design:28} {m.commits:8d} {m.p50_ms:7.2f} {m.p99_ms:7.2f} "
            f"{m.commits_per_s:10.1f} {m.fsyncs_per_commit:7.2f}"
        )
    rlog, rpages, rslow4, rslow6, rfrozen = real
    print(
        f"log shipping commits {rlog.commits_per_s / max(rpages.commits_per_s, 0.1):.2f}x as "
        f"fast as page shipping; with a slow node, W=6's p99 is "
        f"{rslow6.p99_ms / max(rslow4.p99_ms, 0.01):.1f}x W=4's; with a frozen one, W=4's "
        f"p50 is {rfrozen.p50_ms / max(rlog.p50_ms, 0.01):.1f}x a healthy cluster's"
    )
    print(
        json.dumps(
            {
                "simulated": [asdict(m) for m in simulated],
                "real": [asdict(m) for m in real],
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
