"""GFS read throughput with 1, 2 and 3 chunkservers against one file server, same run.

Prints each setup's aggregate read throughput (several client threads reading different
64 KiB chunks), its ratio to the baseline -- one unreplicated file server over the same rpc
layer, measured in the same run -- and the master's share of the work (calls to the master
per MB read), then a final JSON line.

    .venv/bin/python benchmarks/gfs_bench.py --clients 4 --seconds 3

What limits scaling here: every process (master, chunkservers, the clients' process) shares
the machine's cores, and the client threads share one Python interpreter lock; on a 2-core
machine more chunkservers add processes, not cores.
"""

from __future__ import annotations

import argparse
import json

from distlab.gfs.scaling import measure_read_scaling


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunkservers", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--chunks", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    report = measure_read_scaling(
        tuple(args.chunkservers), clients=args.clients, chunks=args.chunks, seconds=args.seconds
    )
    print(
        f"{args.clients} client threads reading 64 KiB chunks for {args.seconds} s each; "
        f"{report.cpu_count} CPUs, load {report.load:.2f}"
    )
    print(report.table())
    figures = {
        "benchmark": "gfs_read_scaling",
        "baseline_mb_per_s": round(report.baseline.mb_per_s, 2),
        "points": [
            {
                "chunkservers": p.chunkservers,
                "mb_per_s": round(p.mb_per_s, 2),
                "ratio": round(p.mb_per_s / report.baseline.mb_per_s, 3),
                "master_calls_per_mb": round(p.master_calls_per_mb, 3),
            }
            for p in report.points
        ],
        "cpu_count": report.cpu_count,
        "load": round(report.load, 2),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
