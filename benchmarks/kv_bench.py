"""What does consistency cost? Ops/s and latency of the strong, weak and unreplicated stores.

Contenders, each a real cluster on this machine, measured one after the other in one run
with the same closed-loop workload (``--clients`` threads, each a sequential client issuing
get / put on ``--keys`` keys, half and half, for ``--seconds``):

  strong    3 nodes, KV on Raft: puts through the log (fsync per batch), gets by ReadIndex
            (the leader confirms it still leads with one round of heartbeats; no log entry)
  strong-log  the same cluster kind, with every get through the log as well (the old path)
  weak      3 nodes, LWW replicas (answer locally after an fsync'ed local write; push later)
  quorum    3 nodes, R = W = 2 coordinated by the Clerk (a read asks 2 replicas; a write
            reads a stamp from 2, then waits for 2 fsync'ed acks)
  single    1 node, DurableKV (write-ahead log + fsync, no replication): the baseline
  etcd      3 etcd members (fsync on), puts and linearizable gets at the leader over etcd's
            HTTP/JSON gateway (a keep-alive connection with TCP_NODELAY per client thread);
            skipped, with the package to install, where etcd is missing

Strong, weak and quorum are driven through the same Clerk (retries, at-most-once); single through a
bare rpc Client (it has no Clerk protocol). Timings on a shared 2-core machine are noisy:
compare ratios within one run, and repeat with ``--reps``.

    .venv/bin/python benchmarks/kv_bench.py
    .venv/bin/python benchmarks/kv_bench.py --quick

Prints a table (median over repetitions; get and put latencies apart), the ratios against
single and etcd, then one JSON line. ``--clients 1`` is one sequential client.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Callable

from distlab.cluster import Cluster
from distlab.cluster.programs import DurableKV
from distlab.engines import EtcdCluster
from distlab.kv import Clerk


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _closed_loop(
    make_op: Callable[[int], Callable[[str, str | None], object]],
    clients: int,
    keys: int,
    seconds: float,
    seed: int,
) -> dict[str, float]:
    """``clients`` threads run ``op(key, value_or_None)`` back to back for ``seconds``."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    by_kind: dict[str, list[float]] = {"get": [], "put": []}
    errors = [0] * clients
    ops = [make_op(i) for i in range(clients)]
    start_at = time.monotonic() + 0.2
    stop_at = start_at + seconds

    def loop(i: int) -> None:
        rng = random.Random(f"{seed}-{i}")
        op = ops[i]
        n = 0
        while time.monotonic() < start_at:
            time.sleep(0.001)
        while time.monotonic() < stop_at:
            n += 1
            key = f"k{rng.randrange(keys)}"
            value = None if rng.random() < 0.5 else f"v{i}.{n}"
            began = time.perf_counter()
            try:
                op(key, value)
            except Exception:
                errors[i] += 1
                continue
            elapsed_ms = (time.perf_counter() - began) * 1000
            latencies[i].append(elapsed_ms)
            by_kind["get" if value is None else "put"].append(elapsed_ms)  # (list.append: atomic)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = [value for per_client in latencies for value in per_client]
    return {
        "ops_per_s": len(merged) / seconds,
        "p50_ms": _percentile(merged, 0.5),
        "p99_ms": _percentile(merged, 0.99),
        "get_p50_ms": _percentile(by_kind["get"], 0.5),
        "put_p50_ms": _percentile(by_kind["put"], 0.5),
        "errors": float(sum(errors)),
    }


def _clerk_op(clerk: Clerk) -> Callable[[str, str | None], object]:
    return lambda key, value: clerk.get(key) if value is None else clerk.put(key, value)


def measure_replicated(
    consistency: str, args: argparse.Namespace, seed: int, reads: str = "read_index"
) -> dict[str, float]:
    with Cluster.start(3, service="kv", consistency=consistency, seed=seed) as cluster:
        clerks = [
            Clerk.for_cluster(
                cluster, client_id=f"bench-{i}", preferred=cluster.names[i % 3], reads=reads
            )
            for i in range(args.clients)
        ]
        clerks[0].put("warmup", "1")  # strong: wait for a leader before the clock starts
        for clerk in clerks[1:]:
            clerk.get("warmup")
        result = _closed_loop(
            lambda i: _clerk_op(clerks[i]), args.clients, args.keys, args.seconds, seed
        )
        for clerk in clerks:
            clerk.close()
    return result


def measure_single(args: argparse.Namespace, seed: int) -> dict[str, float]:
    with Cluster.start(1, program=DurableKV, seed=seed) as cluster:
        clients = [cluster.client("n0", client_name=f"bench-{i}") for i in range(args.clients)]

        def op(i: int) -> Callable[[str, str | None], object]:
            client = clients[i]
            return lambda key, value: (
                client.call("KV.get", key, timeout=5.0)
                if value is None
                else client.call("KV.put", key, value, timeout=5.0)
            )

        return _closed_loop(op, args.clients, args.keys, args.seconds, seed)


def measure_etcd(args: argparse.Namespace, seed: int) -> dict[str, float]:
    with EtcdCluster.start(3) as etcd:
        leader = etcd.wait_for_leader()
        clients = [etcd.client(leader, timeout_s=5.0) for _ in range(args.clients)]
        clients[0].put("warmup", "1")
        try:
            return _closed_loop(
                lambda i: (
                    lambda key, value: (
                        clients[i].get(key) if value is None else clients[i].put(key, value)
                    )
                ),
                args.clients,
                args.keys,
                args.seconds,
                seed,
            )
        finally:
            for client in clients:
                client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per contender and rep")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 s per contender")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds = 2.0
    contenders: dict[str, Callable[[int], dict[str, float]]] = {
        "strong": lambda seed: measure_replicated("strong", args, seed),
        "strong-log": lambda seed: measure_replicated("strong", args, seed, reads="log"),
        "weak": lambda seed: measure_replicated("weak", args, seed),
        "quorum": lambda seed: measure_replicated("quorum", args, seed),
        "single": lambda seed: measure_single(args, seed),
    }
    if shutil.which("etcd"):
        contenders["etcd"] = lambda seed: measure_etcd(args, seed)
    else:
        print("etcd: skipped (not installed; Debian: apt-get install etcd-server)")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in contenders}
    for rep in range(args.reps):
        for name, measure in contenders.items():
            runs[name].append(measure(args.seed + rep))
    print(
        f"kv benchmark: {args.clients} clients, {args.keys} keys, 50% get / 50% put, "
        f"{args.seconds:g} s x {args.reps} rep(s) per contender (medians)"
    )
    print(
        f"{'store':<11} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'get p50':>8} {'put p50':>8} "
        f"{'errors':>7}"
    )
    medians: dict[str, dict[str, float]] = {}
    for name, samples in runs.items():
        medians[name] = {key: statistics.median(s[key] for s in samples) for key in samples[0]}
        row = medians[name]
        print(
            f"{name:<11} {row['ops_per_s']:9.0f} {row['p50_ms']:8.2f} {row['p99_ms']:8.2f} "
            f"{row['get_p50_ms']:8.2f} {row['put_p50_ms']:8.2f} {row['errors']:7.0f}"
        )
    single = medians["single"]
    ratios = {
        "strong_vs_single_ops": medians["strong"]["ops_per_s"] / single["ops_per_s"],
        "weak_vs_single_ops": medians["weak"]["ops_per_s"] / single["ops_per_s"],
        "quorum_vs_single_ops": medians["quorum"]["ops_per_s"] / single["ops_per_s"],
        "weak_vs_strong_ops": medians["weak"]["ops_per_s"] / medians["strong"]["ops_per_s"],
        "strong_vs_weak_p50": medians["strong"]["p50_ms"] / medians["weak"]["p50_ms"],
        # Speed ratios from latencies (other / ours): above 1, ours answers faster.
        "read_index_vs_log_get_speed": (
            medians["strong-log"]["get_p50_ms"] / medians["strong"]["get_p50_ms"]
        ),
    }
    if "etcd" in medians:
        etcd = medians["etcd"]
        ratios["strong_vs_etcd_get_speed"] = etcd["get_p50_ms"] / medians["strong"]["get_p50_ms"]
        ratios["strong_vs_etcd_put_speed"] = etcd["put_p50_ms"] / medians["strong"]["put_p50_ms"]
    print("ratios: " + ", ".join(f"{key} {value:.2f}" for key, value in ratios.items()))
    print(
        json.dumps(
            {
                "benchmark": "kv",
                "clients": args.clients,
                "keys": args.keys,
                "seconds": args.seconds,
                "reps": args.reps,
                "medians": medians,
                "ratios": ratios,
            },
            sort_keys=True,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
