"""Batch or normal scheduling for node processes: one blocking Raft writer, interleaved A/B.

distlab can run its node processes as batch work (``Cluster.start(scheduling="batch")``, see
``distlab.cluster.node.schedule``; the default is normal work): a node that a message wakes does
not preempt the process running on its CPU. This script measures what that buys one blocking
writer, and whether it is our gain or the machine's, in the fairest way this
2-core machine allows: on *one* running 3-node cluster, the scheduling policy of every thread of
every node is switched back and forth between runs of ``--writes`` blocking writes in the
leader (fsync off), so both policies see the same processes, connections and leader. The same
is done to a PySyncObj cluster (its nodes' only thread is its event loop).

    .venv/bin/python benchmarks/scheduling_bench.py [--rounds 6] [--writes 1500]

Prints every run, the means, and ours / PySyncObj under each policy (like for like); a final
JSON line holds the figures. Linux only (SCHED_BATCH). A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import raft_bench

from distlab.cluster import Cluster

POLICIES = {"batch": getattr(os, "SCHED_BATCH", None), "normal": os.SCHED_OTHER}


def set_policy(pid: int, policy: int) -> None:
    """Every thread of process ``pid`` (a thread inherits its policy only when it starts)."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        os.sched_setscheduler(int(tid), policy, os.sched_param(0))


def alternate(pids: list[int], run: Callable[[], float], rounds: int) -> dict[str, list[float]]:
    """``rounds`` times: each policy in turn on every process, then ``run()`` (writes/s)."""
    rates: dict[str, list[float]] = {name: [] for name in POLICIES}
    for _ in range(rounds):
        for name, policy in POLICIES.items():
            for pid in pids:
                set_policy(pid, policy)
            rates[name].append(run())
            print(f"  {name:6} {rates[name][-1]:7.0f} writes/s", flush=True)
    return rates


def ours(rounds: int, writes: int) -> dict[str, list[float]]:
    options = dict(election_timeout_ms=raft_bench.TIMEOUTS_MS, heartbeat_ms=raft_bench.HEARTBEAT_MS)
    with Cluster.start(3, program=raft_bench.BenchPeer, seed=11, fsync=False, **options) as cluster:
        leader = raft_bench._wait_settled(cluster)
        bench = cluster.client(leader, client_name="controller")
        bench.call("Bench.blocking", 200, timeout=60)  # warm up
        pids = [pid for name in cluster.names if (pid := cluster.pid(name)) is not None]
        return alternate(pids, lambda: bench.call("Bench.blocking", writes, timeout=300), rounds)


def pysyncobj(rounds: int, writes: int) -> dict[str, list[float]]:
    cluster = raft_bench.PySyncObjCluster(batch=False)
    try:
        leader = cluster.wait_leader()
        cluster.call(leader, "blocking", 200)  # warm up
        pids = [node[0].pid for node in cluster.nodes if node is not None]
        return alternate(pids, lambda: cluster.call(leader, "blocking", writes), rounds)
    finally:
        cluster.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6, help="A/B rounds per system")
    parser.add_argument("--writes", type=int, default=1500, help="blocking writes per run")
    parser.add_argument("--no-pysyncobj", action="store_true", help="skip the baseline")
    args = parser.parse_args()
    if POLICIES["batch"] is None:
        print("SCHED_BATCH is Linux's: nothing to compare here")
        return 0
    print("ours (distlab Raft, fsync off), one blocking writer in the leader:")
    figures = {"ours": ours(args.rounds, args.writes)}
    if not args.no_pysyncobj:
        print("PySyncObj, one blocking writer in the leader:")
        figures["pysyncobj"] = pysyncobj(args.rounds, args.writes)
    means = {
        system: {name: statistics.mean(rates) for name, rates in by_policy.items()}
        for system, by_policy in figures.items()
    }
    print(f"{'mean writes/s':24} {'batch':>8} {'normal':>8} {'batch/normal':>13}")
    for system, by_policy in means.items():
        gain = by_policy["batch"] / by_policy["normal"]
        print(f"{system:24} {by_policy['batch']:8.0f} {by_policy['normal']:8.0f} {gain:12.2f}x")
    if "pysyncobj" in means:
        for name in POLICIES:
            ratio = means["ours"][name] / means["pysyncobj"][name]
            print(f"ours / PySyncObj, both {name}: {ratio:.2f}x")
    print(json.dumps({"runs": figures, "means": means, "writes": args.writes}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
