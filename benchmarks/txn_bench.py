"""What do shards buy, what does contention cost, and how long does a dead coordinator block?

Measured one after the other in one run (compare ratios within the run, never across runs):

  scale-out   single-key transactions (read, write, two-phase commit with one participant) from
              ``--clients`` threads for ``--seconds`` each, on real clusters of 1, 2 and 4 shard
              processes plus the coordinator; baseline: 1 shard. On a 2-core machine the
              coordinator and every shard share two cores, so the growth is bounded by CPU,
              not by the design.
  contention  the simulator's bank (seeded, virtual time): abort rate and committed transfers
              per 1,000 ticks with uniform keys vs 80% of transfers between the two hottest
              accounts (wait-die aborts the younger transaction on every conflict).
  blocking    how long another transaction stalls while a prepared transaction's coordinator
              is down: simulated (ticks, all of the downtime) and on PostgreSQL (until its
              ``lock_timeout``).
  postgres    the same bank workload (same threads, transfers and accounts) on distlab's
              3-process cluster and on two PostgreSQL servers driven by the same coordinator.

    .venv/bin/python benchmarks/txn_bench.py            # about a minute
    .venv/bin/python benchmarks/txn_bench.py --quick    # 1 s per point

Prints tables, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from typing import Any

from distlab.cluster import Cluster
from distlab.txn import run_bank, run_bank_real, shard_for
from distlab.txn.node import RealBackend


def single_key_throughput(shards: int, clients: int, seconds: float) -> float:
    """Committed single-key transactions per second on ``shards`` shard processes."""
    with Cluster.start(shards + 1, service="txn", seed=shards) as cluster:
        backend = RealBackend(cluster)
        done = [0]
        stop = time.monotonic() + seconds
        lock = threading.Lock()

        def client(index: int) -> None:
            rng = random.Random(index)
            while time.monotonic() < stop:
                key = f"k{index}-{rng.randrange(64)}"  # own keys: no conflicts, only capacity
                shard = shard_for(key, backend.shards)
                txid = backend.begin()
                assert txid is not None
                # the client's previous transaction may still hold the key until the
                # shard hears its decision: then wait-die aborts this one (counted apart)
                if backend.read(shard, txid, key, True)[0] != "ok":
                    backend.abort(txid, [shard])
                    continue
                if backend.write(shard, txid, key, [1, txid], False)[0] != "ok":
                    backend.abort(txid, [shard])
                    continue
                backend.commit(txid, [shard])
                while backend.outcome(txid) not in ("committed", "aborted"):
                    time.sleep(0.001)
                with lock:
                    done[0] += 1

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return done[0] / seconds


def contention() -> dict[str, Any]:
    rows = {}
    for name, skew in (("uniform", 0.0), ("skewed", 0.8)):
        runs = [
            run_bank(seed, transfers=60, clients=4, accounts=16, skew=skew) for seed in range(5)
        ]
        committed = sum(r.committed for r in runs)
        aborted = sum(r.aborted for r in runs)
        ticks = sum(r.ticks for r in runs)
        rows[name] = {
            "abort_rate": round(aborted / (aborted + committed), 3),
            "commits_per_1000_ticks": round(1000 * committed / ticks, 1),
        }
    return rows


def postgres_side(clients: int, transfers: int) -> dict[str, Any]:
    from distlab.engines import PostgresPair, check_postgres
    from distlab.engines.processes import ServerError
    from distlab.txn import PostgresBank, blocked_experiment, run_bank_postgres

    try:
        check_postgres()
    except ServerError as error:
        return {"skipped": str(error)}
    with PostgresPair() as pair:
        bank = PostgresBank(pair, accounts=4)
        run = run_bank_postgres(bank, seed=1, clients=clients, transfers_per_client=transfers)
        blocked = blocked_experiment(bank, lock_timeout_ms=1000)
        bank.close()
    return {
        "transfers_per_s": round(run.committed / run.seconds, 1),
        "abort_rate": round(run.aborted / max(1, run.aborted + run.committed), 3),
        "serializable": run.check.verdict,
        "stall_s": round(blocked.stalled_s, 2),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 1.0 if args.quick else args.seconds
    result: dict[str, Any] = {"scale_out": {}}

    print(f"scale-out: single-key transactions/s, {args.clients} clients, {seconds:g} s each")
    for shards in (1, 2, 4):
        rate = single_key_throughput(shards, args.clients, seconds)
        result["scale_out"][shards] = round(rate, 1)
        base = result["scale_out"][1]
        print(f"  {shards} shard(s): {rate:8.1f}/s   x{rate / base:.2f} of 1 shard")

    result["contention"] = contention()
    print("contention (simulated bank, 16 accounts, 4 clients):")
    for name, row in result["contention"].items():
        print(
            f"  {name:8} abort rate {row['abort_rate']:.2f}   "
            f"commits/1000 ticks {row['commits_per_1000_ticks']}"
        )

    from distlab.txn import blocked_by_coordinator

    sim = blocked_by_coordinator(seed=0, down_ticks=300)
    result["blocking_sim_ticks"] = sim.other_waits
    print(f"blocking (simulated): the other transaction waited {sim.other_waits} of 300 ticks down")

    transfers = 4 if args.quick else 10
    with Cluster.start(3, service="txn", seed=3) as cluster:
        ours = run_bank_real(cluster, seed=1, clients=3, transfers_per_client=transfers)
    result["distlab_bank"] = {
        "transfers_per_s": round(ours.committed / ours.seconds, 1),
        "abort_rate": round(ours.aborted / max(1, ours.aborted + ours.committed), 3),
        "serializable": ours.check.verdict,
    }
    result["postgres_bank"] = postgres_side(3, transfers)
    print("bank, 3 clients x", transfers, "transfers, 4 accounts on 2 participants:")
    for name in ("distlab_bank", "postgres_bank"):
        print(f"  {name:14} {result[name]}")
    if "transfers_per_s" in result["postgres_bank"]:
        ratio = result["postgres_bank"]["transfers_per_s"] / max(
            0.1, result["distlab_bank"]["transfers_per_s"]
        )
        print(f"  PostgreSQL / distlab: x{ratio:.2f}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
