"""What strong consistency costs on real engines: read and write latency, one client.

etcd (3 members on loopback): a put through the leader; a linearizable read from a follower
(it asks the leader for the commit index and waits to apply it: ReadIndex); a serializable
read from the same follower (its own copy). Redis (primary + 2 replicas): SET on the
primary; GET on the primary; GET on a replica. For each: median and p99 latency over
--ops sequential calls (after --warmup), and calls per second. The baseline for each read
is the cheaper read of the same engine in the same run. A final JSON line holds the figures.

    .venv/bin/python benchmarks/engines_bench.py --ops 500
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

from distlab.engines import EtcdCluster, RedisReplicaSet


def measure(call: Callable[[int], object], ops: int, warmup: int) -> dict[str, float]:
    for i in range(warmup):
        call(i)
    latencies = []
    started = time.perf_counter()
    for i in range(ops):
        begin = time.perf_counter()
        call(i)
        latencies.append((time.perf_counter() - begin) * 1000)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 3),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
        "ops_s": round(ops / elapsed, 1),
    }


def bench_etcd(ops: int, warmup: int) -> dict[str, dict[str, float]]:
    with EtcdCluster.start(3) as etcd:
        leader = etcd.wait_for_leader()
        follower = next(name for name in etcd.names if name != leader)
        writer = etcd.client(leader)
        linearizable = etcd.client(follower)
        serializable = etcd.client(follower, serializable=True)
        writer.put("bench", "0")
        return {
            "etcd put (leader)": measure(lambda i: writer.put("bench", str(i)), ops, warmup),
            "etcd linearizable get (follower)": measure(
                lambda i: linearizable.get("bench"), ops, warmup
            ),
            "etcd serializable get (follower)": measure(
                lambda i: serializable.get("bench"), ops, warmup
            ),
        }


def bench_redis(ops: int, warmup: int) -> dict[str, dict[str, float]]:
    with RedisReplicaSet.start() as rs:
        primary = rs.client(rs.primary)
        replica = rs.client(rs.replicas[0])
        primary.put("bench", "0")
        return {
            "redis SET (primary)": measure(lambda i: primary.put("bench", str(i)), ops, warmup),
            "redis GET (primary)": measure(lambda i: primary.get("bench"), ops, warmup),
            "redis GET (replica)": measure(lambda i: replica.get("bench"), ops, warmup),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    figures = {**bench_etcd(args.ops, args.warmup), **bench_redis(args.ops, args.warmup)}
    width = max(len(name) for name in figures)
    print(f"{'operation':<{width}}  {'p50 ms':>8}  {'p99 ms':>8}  {'ops/s':>8}")
    for name, row in figures.items():
        print(f"{name:<{width}}  {row['p50_ms']:>8}  {row['p99_ms']:>8}  {row['ops_s']:>8}")
    lin = figures["etcd linearizable get (follower)"]["p50_ms"]
    ser = figures["etcd serializable get (follower)"]["p50_ms"]
    print(f"etcd: a linearizable read costs {lin / ser:.1f}x a serializable one (median)")
    print(json.dumps({"ops": args.ops, "figures": figures}))


if __name__ == "__main__":
    main()
