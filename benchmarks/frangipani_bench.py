"""Frangipani: private files (cache hits, no lock traffic) against one shared file ping-ponging.

One run, one cluster (3 Raft servers holding the disk and the locks, 2 workstation
processes), the same alternating write/read workload twice: each workstation on its own
file, then both on one file; then a second cluster with the teaching switch
``write_back_on_revoke=False`` runs the shared workload again, so the difference is the cost
of the write-back on revoke (that run's reads are stale: a baseline only). Prints operations
per second, lock commands per operation, all commands per operation and write-backs forced
by revokes, then the ratios and one JSON line. Compare ratios within one run.

    .venv/bin/python benchmarks/frangipani_bench.py            # 200 operations each
    .venv/bin/python benchmarks/frangipani_bench.py --ops 40
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from distlab.cluster import Cluster
from distlab.frangipani.experiments import measure_sharing


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=200)
    args = parser.parse_args()
    with Cluster.start(5, service="frangipani", seed=1) as cluster:
        rows = measure_sharing(cluster, args.ops)
    # The cost of the write-back on revoke: the same shared ping-pong with the teaching
    # switch off (revokes release without writing back; its reads are stale).
    with Cluster.start(5, service="frangipani", seed=1, write_back_on_revoke=False) as cluster:
        rows += measure_sharing(cluster, args.ops, workloads=("shared",), label=" (no wb)")
    print(
        f"{'workload':15} {'ops/s':>8} {'lock cmds/op':>13} {'cmds/op':>8} {'write-backs/op':>15}"
    )
    for row in rows:
        print(
            f"{row.workload:15} {row.ops_per_s:8.1f} {row.lock_commands_per_op:13.2f} "
            f"{row.commands_per_op:8.2f} {row.write_backs_per_op:15.2f}"
        )
    private, shared, no_write_back = rows
    print(
        f"shared/private: {shared.ops_per_s / private.ops_per_s:.4f}x the throughput, "
        f"{shared.commands_per_op - private.commands_per_op:+.2f} commands per operation"
    )
    print(
        f"write-back on revoke: {no_write_back.ops_per_s / shared.ops_per_s:.2f}x the "
        f"throughput without it; {shared.commands_per_op - no_write_back.commands_per_op:+.2f} "
        "commands per operation with it"
    )
    print(json.dumps({"rows": [asdict(row) for row in rows]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
