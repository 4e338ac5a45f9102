"""Why ZooKeeper's reads scale: throughput against the fraction of reads, 3 and 5 servers.

The shape of the ZooKeeper paper's Figure 5: a read is answered by the one server a session is
attached to, from its own copy, so read throughput grows with servers; a write goes through
the leader and a majority, so it does not. Contenders, each a real cluster on this machine,
measured one after the other in one run with the same closed-loop workload (``--clients``
threads, each its own session, attached round-robin to the servers, each issuing ``get`` or
``set`` on a few znodes; the fraction of gets varies):

  coord-3 / coord-5   distlab.coord on 3 / 5 Raft servers (fsync on): local reads
  kv-strong-3         distlab's strong KV store on 3 servers (chapter 10): every get at the
                      leader by ReadIndex, every put through the log -- the baseline
  zookeeper-3         a real ZooKeeper 3.8 ensemble via kazoo (skipped, naming the package,
                      where it is missing)

On a shared 2-core machine every server shares the same two cores, so the *scaling* of the
paper (one machine per server) cannot appear in absolute numbers; compare ratios in one run:
reads against writes per contender, and local reads against the strong store's ReadIndex reads.

    .venv/bin/python benchmarks/coord_bench.py
    .venv/bin/python benchmarks/coord_bench.py --quick

Then the herd effect: watch notifications per lock acquisition, the naive lock against the
herd-free one, 10 and 20 clients all queueing at once -- in the simulator (exact, seeded), on
distlab.coord's real processes and on the real ZooKeeper.

Prints a table of ops/s (rows: contenders; columns: read fractions), the ratios, the herd
table, one JSON line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from kazoo.exceptions import NodeExistsError

from distlab.cluster import Cluster
from distlab.coord import herd, herd_count
from distlab.engines import ServerError, ZooKeeperEnsemble, check_zookeeper
from distlab.kv import Clerk

HERD_SIZES = (10, 20)

PATHS = [f"/bench/k{i}" for i in range(4)]


def closed_loop(ops: list[Callable[[bool, str], Any]], fraction: float, seconds: float) -> float:
    """Every op callable in its own thread for ``seconds``; total ops/s."""
    counts = [0] * len(ops)
    stop = threading.Event()

    def loop(i: int) -> None:
        rng = random.Random(i)
        while not stop.is_set():
            ops[i](rng.random() < fraction, rng.choice(PATHS))
            counts[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(ops))]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    stop.wait(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - start)


def _znode_ops(clients: list[Any]) -> list[Callable[[bool, str], Any]]:
    for path in PATHS:
        with contextlib.suppress(NodeExistsError):
            clients[0].create(path, b"0", makepath=True)
    clients[0].sync("/")

    def make(client: Any) -> Callable[[bool, str], Any]:
        client.sync("/")
        return lambda read, path: client.get(path) if read else client.set(path, b"1")

    return [make(client) for client in clients]


def herd_table(make_clients: Callable[[int], list[Any]]) -> dict[str, float]:
    """Notifications per acquisition for each recipe and size (one acquisition per client)."""
    table = {}
    for size in HERD_SIZES:
        for recipe in ("naive", "herd-free"):
            table[f"{recipe}-{size}"] = herd_count(make_clients(size), recipe) / size
    return table


def measure_coord(servers: int, args: argparse.Namespace) -> tuple[dict[float, float], dict]:
    herds: dict[str, float] = {}
    with Cluster.start(servers, service="coord", seed=1) as cluster:
        clients = [cluster.client(server=cluster.names[i % servers]) for i in range(args.clients)]
        ops = _znode_ops(clients)
        result = {f: closed_loop(ops, f, args.seconds) for f in args.fractions}
        if servers == 3:
            made: list[Any] = []

            def sessions(n: int) -> list[Any]:
                new = [cluster.client(server=cluster.names[i % servers]) for i in range(n)]
                made.extend(new)
                return new

            herds = herd_table(sessions)
            clients += made
        for client in clients:
            client.stop()
    return result, herds


def measure_kv(args: argparse.Namespace) -> dict[float, float]:
    with Cluster.start(3, service="kv", consistency="strong", seed=1) as cluster:
        clerks = [Clerk.for_cluster(cluster, client_id=f"b{i}") for i in range(args.clients)]

        def make(clerk: Clerk) -> Callable[[bool, str], Any]:
            return lambda read, path: clerk.get(path) if read else clerk.put(path, "1")

        ops = [make(clerk) for clerk in clerks]
        result = {f: closed_loop(ops, f, args.seconds) for f in args.fractions}
        for clerk in clerks:
            clerk.close()
    return result


def measure_zookeeper(args: argparse.Namespace) -> tuple[dict[float, float], dict] | None:
    try:
        check_zookeeper()
    except ServerError as error:
        print(f"zookeeper-3: skipped ({error})", file=sys.stderr)
        return None
    with ZooKeeperEnsemble.start(3) as ensemble:
        clients = [ensemble.client(f"n{i % 3}") for i in range(args.clients)]
        ops = _znode_ops(clients)
        result = {f: closed_loop(ops, f, args.seconds) for f in args.fractions}
        herds = herd_table(lambda n: [ensemble.client(f"n{i % 3}") for i in range(n)])
        return result, herds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--quick", action="store_true", help="1 s per point, fewer fractions")
    args = parser.parse_args(argv)
    args.fractions = [0.0, 0.5, 0.9, 1.0]
    if args.quick:
        args.seconds, args.fractions = 1.0, [0.0, 0.9, 1.0]
    coord3, coord_herd = measure_coord(3, args)
    rows: dict[str, dict[float, float]] = {
        "coord-3": coord3,
        "coord-5": measure_coord(5, args)[0],
        "kv-strong-3": measure_kv(args),
    }
    herds = {
        "simulated": {
            f"{recipe}-{size}": herd(recipe, size).per_acquisition
            for size in HERD_SIZES
            for recipe in ("naive", "herd-free")
        },
        "coord-3": coord_herd,
    }
    zookeeper = measure_zookeeper(args)
    if zookeeper is not None:
        rows["zookeeper-3"], herds["zookeeper-3"] = zookeeper
    header = "contender     " + "".join(f"{f:>10.0%} reads" for f in args.fractions)
    print(f"ops/s, {args.clients} closed-loop clients, {args.seconds:g} s per point")
    print(header)
    for name, row in rows.items():
        print(f"{name:<14}" + "".join(f"{row[f]:>16.0f}" for f in args.fractions))
    print()
    for name, row in rows.items():
        print(f"{name}: all reads / all writes = {row[1.0] / row[0.0]:.1f}x")
    base = rows["kv-strong-3"][1.0]
    for name in ("coord-3", "coord-5"):
        print(f"{name} local reads / kv-strong-3 ReadIndex reads = {rows[name][1.0] / base:.1f}x")
    print(f"coord-5 / coord-3 at 100% reads = {rows['coord-5'][1.0] / rows['coord-3'][1.0]:.2f}x")
    print()
    columns = list(herds["simulated"])
    print("watch notifications per lock acquisition (all clients queue at once)")
    print("where         " + "".join(f"{c:>15}" for c in columns))
    for name, table in herds.items():
        print(f"{name:<14}" + "".join(f"{table[c]:>15.2f}" for c in columns))
    print(
        json.dumps(
            {
                "throughput": {
                    name: {str(f): round(v, 1) for f, v in row.items()}
                    for name, row in rows.items()
                },
                "notifications_per_acquisition": herds,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
