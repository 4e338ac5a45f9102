"""Do reads scale with the chain? Chain replication vs CRAQ vs Raft KV, on real clusters.

Contenders, measured one after the other in one run with the same closed-loop workload
(``--clients`` threads, each a sequential client doing gets and puts on 16 keys, with
``--writes`` fractions of puts, for ``--seconds``):

  cr       chain replication, chains of 1..5 nodes (+ the configuration manager's process):
           writes at the head, every read at the tail
  craq     CRAQ on the same chains: every member answers reads of clean keys itself and asks
           the tail only about a key with a dirty version
  raft-kv  distlab's KV on Raft (3 nodes, gets by ReadIndex at the leader): the baseline

The expectation (the CRAQ paper): CR's reads stay flat as the chain grows -- the tail is
the bottleneck -- while CRAQ's grow with the chain on read-mostly work. On a 2-core
machine every node process shares the same two cores, so CRAQ's added nodes add no CPU
and its throughput cannot grow the way the paper's does; the per-node "reads served"
column shows the mechanism regardless of cores: CR sends every read to one node, CRAQ
spreads them over the chain. Compare ratios within one run.

    .venv/bin/python benchmarks/chain_bench.py
    .venv/bin/python benchmarks/chain_bench.py --quick        # lengths 1 and 3, 1 s each

Prints a table, the ratio of each read rate to Raft KV's at the same mix, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from distlab.chain import run_throughput_grid


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--writes", type=float, nargs="+", default=[0.0, 0.1, 0.5])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.lengths, args.seconds = [1, 3], 1.0
    if any(not 1 <= n <= 9 for n in args.lengths):
        parser.error("chain lengths must be 1 to 9")
    if any(not 0.0 <= w <= 1.0 for w in args.writes):
        parser.error("write fractions must be in [0, 1]")
    rows = run_throughput_grid(
        lengths=args.lengths,
        write_fractions=args.writes,
        duration_s=args.seconds,
        clients=args.clients,
    )
    raft = {row.write_fraction: row for row in rows if row.system == "raft-kv"}
    print(
        f"{'system':8} {'nodes':>5} {'writes':>6} {'reads/s':>9} {'writes/s':>9} "
        f"{'reads vs raft':>13}  reads served per node"
    )
    for row in rows:
        base = raft[row.write_fraction].reads_per_s
        ratio = f"{row.reads_per_s / base:.2f}x" if base else "-"
        served = " ".join(f"{n}:{c}" for n, c in sorted(row.reads_served.items()))
        print(
            f"{row.system:8} {row.nodes:5d} {row.write_fraction:6.0%} {row.reads_per_s:9.0f} "
            f"{row.writes_per_s:9.0f} {ratio:>13}  {served}"
        )
    print(json.dumps([asdict(row) for row in rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
