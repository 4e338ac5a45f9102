"""Raft on three real local processes: throughput and failover, next to PySyncObj.

Run:  .venv/bin/python benchmarks/raft_bench.py [--trials 20] [--writes 500] [--quick]
      [--scheduling batch|normal]

Every node process, ours and PySyncObj's, runs under the same OS scheduling policy:
``normal`` (distlab's default) or ``batch`` (see `distlab.cluster.node.schedule`).

A benchmark, not a test: it prints a table and a final JSON line; it asserts nothing. The
machine is shared and has two cores, so run it more than once and read the ratios rather
than the absolute figures.

Workloads (each on a fresh 3-node cluster, 150-300 ms election timeouts, 50 ms heartbeat):

* blocking: one writer, one write at a time; the next starts when the last is applied.
  - ours, in the leader's process (as PySyncObj's API runs in its node's process), and
  - ours, from a separate client process over RPC (``Replicated.submit``: one more hop);
  - PySyncObj ``inc(sync=True)`` with ``appendEntriesUseBatch=False`` (its default batching
    waits for the next 100 ms heartbeat: about 10 writes/s).
* pipelined: 1,000 outstanding writes on the leader (issued at once, awaited, repeated);
  ours also from a client process (10 concurrent ``Replicated.submit_many`` of 100).
* failover: SIGKILL the leader; time until a write submitted after the kill is applied.
  Median and p95 over ``--trials`` kills (the killed node is restarted between trials);
  ours with fsync on and off (an election persists the vote, and the new leader's first
  entries, before answering: a few fsyncs on the way).

For the blocking writer in the leader (fsync off) and PySyncObj's, the table also gives the CPU
one write costs, summed over the three node processes, and how many of the machine's cores the
cluster kept busy while writing (Linux only: from /proc). Writes/s is about cores busy divided
by CPU per write, so it shows which of the two limits a system.

Ours runs with fsync on (every Ready batch is fsynced: group commit) and off; PySyncObj keeps
its log in memory (no journal), so "ours, fsync off" is the like-for-like comparison.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distlab.cluster import Cluster
from distlab.raft import NotLeader
from distlab.replicated import RaftClient, decode_reply
from distlab.replicated.raft_peer import RaftPeer

TIMEOUTS_MS = (150, 300)
# How the OS schedules every node process, ours and PySyncObj's alike (--scheduling):
# "normal" is distlab's default; distlab.cluster.node.schedule says what "batch" buys.
SCHEDULING = {"kind": "normal"}
HEARTBEAT_MS = 50
PYSYNCOBJ_HEARTBEAT_MS = 40


# ==============================================================================================
# Ours: a RaftPeer with a "Bench" service that runs workloads inside the leader's process
# ==============================================================================================


class _BenchRPC:
    def __init__(self, peer: RaftPeer) -> None:
        self._peer = peer

    def blocking(self, n: int) -> float:
        """n writes, one at a time, in this process; returns writes/s."""
        peer = self._peer
        start = time.perf_counter()
        for i in range(n):
            pending = peer.propose_nowait(["w", i])
            if isinstance(pending, NotLeader):
                raise RuntimeError(f"not the leader: {pending}")
            answer = peer.wait_for_result(pending, 5.0)
            if not answer.ok:
                raise RuntimeError(f"write failed: {answer}")
        return n / (time.perf_counter() - start)

    def pipelined(self, outstanding: int, rounds: int) -> float:
        """``rounds`` times: issue ``outstanding`` writes at once, await all; writes/s."""
        peer = self._peer
        start = time.perf_counter()
        for r in range(rounds):
            pendings = [peer.propose_nowait(["p", r, i], drive=False) for i in range(outstanding)]
            peer.drive()
            for pending in pendings:
                if isinstance(pending, NotLeader):
                    raise RuntimeError(f"not the leader: {pending}")
                answer = peer.wait_for_result(pending, 10.0)
                if not answer.ok:
                    raise RuntimeError(f"write failed: {answer}")
        return outstanding * rounds / (time.perf_counter() - start)


class BenchPeer(RaftPeer):
    """RaftPeer plus the in-process workloads above (RPC service "Bench")."""

    def services(self) -> dict[str, object]:
        services = super().services()
        services["Bench"] = _BenchRPC(self)
        return services


def _wait_settled(cluster: Cluster, timeout: float = 30.0) -> str:
    """Wait until every node is up, one leads, and all have applied the same index."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cluster.status()
        fields = [s.fields for s in status.values() if s.alive]
        leaders = [n for n, s in status.items() if s.alive and s.fields.get("role") == "leader"]
        if len(fields) == len(status) and len(leaders) == 1:
            applied = {f["last_applied"] for f in fields}
            if len(applied) == 1 and all(f["leader"] == leaders[0] for f in fields):
                return leaders[0]
        time.sleep(0.02)
    raise RuntimeError(f"cluster did not settle: {cluster.status()}")


def cpu_seconds(pids: list[int]) -> float | None:
    """CPU time used so far by processes ``pids``, all their threads, in nanoseconds'
    precision (Linux's /proc/<pid>/task/<tid>/schedstat); None elsewhere."""
    total = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return None
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                    total += int(stat.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended meanwhile
    return total / 1e9


def with_cpu(pids: list[int], writes: int, run: Any) -> dict[str, float]:
    """``run()`` (writes/s), with the CPU the nodes spent per write and how many cores they
    kept busy on average: a 3-node cluster on 2 cores is limited by both."""
    before, start = cpu_seconds(pids), time.perf_counter()
    rate = run()
    after, wall = cpu_seconds(pids), time.perf_counter() - start
    if before is None or after is None:
        return {"rate": rate}
    used = after - before
    return {"rate": rate, "cpu_us": used / writes * 1e6, "busy": used / wall}


class Disturbed(RuntimeError):
    """A run was cut short by a leader change (this shared machine starved a process for
    longer than an election timeout); the run is repeated."""


DISTURBED_RUNS = 0


def _measured(cluster: Cluster, run: Any) -> float:
    """``run(leader)`` on a settled cluster; repeated (at most 3 times) if a leader change
    makes a write fail."""
    global DISTURBED_RUNS
    for _attempt in range(3):
        leader = _wait_settled(cluster)
        try:
            return run(leader)
        except Exception as error:
            DISTURBED_RUNS += 1
            print(f"  (run disturbed, repeating: {str(error)[:100]})", file=sys.stderr)
    raise Disturbed("three runs in a row were disturbed by leader changes")


def ours_throughput(fsync: bool, writes: int, outstanding: int, rounds: int) -> dict[str, float]:
    options = dict(election_timeout_ms=TIMEOUTS_MS, heartbeat_ms=HEARTBEAT_MS, fsync=fsync)
    with Cluster.start(
        3, program=BenchPeer, seed=11, scheduling=SCHEDULING["kind"], **options
    ) as cluster:

        def bench(leader: str) -> Any:
            return cluster.client(leader, client_name="controller")

        def blocking_rpc(leader: str) -> float:
            client = cluster.client(leader)
            start = time.perf_counter()
            for i in range(writes):
                answer = decode_reply(client.call("Replicated.submit", ["c", i], 5.0, timeout=10))
                if not answer.ok:
                    raise RuntimeError(f"write failed: {answer}")
            return writes / (time.perf_counter() - start)

        def pipelined_rpc(leader: str) -> float:
            # One connection per concurrent batch: a server runs the calls of one connection
            # one after another until a call has been busy for 10 ms.
            chunk = max(outstanding // 10, 1)
            batches = outstanding // chunk
            clients = [cluster.client(leader, client_name=f"client{k}") for k in range(batches)]
            start = time.perf_counter()
            for r in range(rounds):
                futures = [
                    clients[k].call_async(
                        "Replicated.submit_many",
                        [["m", r, k, i] for i in range(chunk)],
                        10.0,
                        timeout=30,
                    )
                    for k in range(batches)
                ]
                for future in futures:
                    if not all(decode_reply(answer).ok for answer in future.result()):
                        raise RuntimeError("a pipelined write failed")
            return batches * chunk * rounds / (time.perf_counter() - start)

        _measured(cluster, lambda leader: bench(leader).call("Bench.blocking", 50, timeout=60))
        pids = [pid for name in cluster.names if (pid := cluster.pid(name)) is not None]
        blocking = _measured(
            cluster,
            lambda leader: with_cpu(
                pids,
                writes,
                lambda: bench(leader).call("Bench.blocking", writes, timeout=300),
            ),
        )
        return {
            "blocking_inproc": blocking["rate"],
            "blocking_cpu_us": blocking.get("cpu_us", 0.0),
            "blocking_busy": blocking.get("busy", 0.0),
            "blocking_rpc": _measured(cluster, blocking_rpc),
            "pipelined_inproc": _measured(
                cluster,
                lambda leader: bench(leader).call(
                    "Bench.pipelined", outstanding, rounds, timeout=300
                ),
            ),
            "pipelined_rpc": _measured(cluster, pipelined_rpc),
        }


def ours_failover(trials: int, fsync: bool) -> list[float]:
    options = dict(election_timeout_ms=TIMEOUTS_MS, heartbeat_ms=HEARTBEAT_MS, fsync=fsync)
    times = []
    with Cluster.start(
        3, program=RaftPeer, seed=12, scheduling=SCHEDULING["kind"], **options
    ) as cluster:
        client = RaftClient(cluster)
        for trial in range(trials):
            leader = _wait_settled(cluster)
            client.leader = leader
            answer = client.submit(["before", trial], timeout_s=10)
            assert answer.ok, answer
            time.sleep(0.1 + 0.05 * (trial % 3))  # kill at varied heartbeat phases
            start = time.monotonic()
            cluster.crash(leader)
            answer = client.submit(["after", trial], timeout_s=30, attempt_timeout_s=0.5)
            elapsed = time.monotonic() - start
            if not answer.ok:
                raise RuntimeError(f"no write after the kill committed: {answer}")
            times.append(elapsed)
            cluster.restart(leader)
    return times


# ==============================================================================================
# PySyncObj: the same workloads on three processes of its own
# ==============================================================================================


def _pysyncobj_node(index: int, ports: list[int], batch: bool, scheduling: str, conn: Any) -> None:
    import logging
    import traceback

    from distlab.cluster.node import schedule

    schedule(scheduling, logging.getLogger("pysyncobj"))  # as ours: like for like
    try:
        _pysyncobj_serve(index, ports, batch, conn)
    except Exception:  # report it to the parent instead of dying silently
        conn.send(("error", traceback.format_exc()))


def _pysyncobj_serve(index: int, ports: list[int], batch: bool, conn: Any) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)  # it prints warnings; nodes never print
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    from pysyncobj import SyncObj, SyncObjConf, replicated

    class Counter(SyncObj):
        def __init__(self, self_address: str, partners: list[str], conf: SyncObjConf) -> None:
            super().__init__(self_address, partners, conf)
            self.value = 0

        @replicated
        def inc(self) -> int:
            self.value += 1
            return self.value

    addresses = [f"127.0.0.1:{port}" for port in ports]
    conf = SyncObjConf(
        appendEntriesUseBatch=batch,
        raftMinTimeout=TIMEOUTS_MS[0] / 1000,
        raftMaxTimeout=TIMEOUTS_MS[1] / 1000,
        # PySyncObj requires raftMinTimeout > 3 x appendEntriesPeriod: 40 ms, not 50.
        appendEntriesPeriod=PYSYNCOBJ_HEARTBEAT_MS / 1000,
        dynamicMembershipChange=False,
    )
    me = addresses[index]
    counter = Counter(me, [a for a in addresses if a != me], conf)
    while True:
        command, *args = conn.recv()
        if command == "status":
            leader = counter._getLeader()
            status = counter.getStatus()
            connected = all(
                value == 2 for key, value in status.items() if key.startswith("partner_node_status")
            )
            conn.send((leader is not None and str(leader) == me, counter._isReady() and connected))
        elif command == "blocking":
            (n,) = args
            start = time.perf_counter()
            for _ in range(n):
                if counter.inc(sync=True, timeout=5.0) is None:
                    raise RuntimeError("pysyncobj write failed")
            conn.send(n / (time.perf_counter() - start))
        elif command == "pipelined":
            outstanding, rounds = args
            start = time.perf_counter()
            for _ in range(rounds):
                done = threading.Semaphore(0)
                errors = []

                def finished(
                    result: Any, error: Any, done: Any = done, errors: list = errors
                ) -> None:
                    if error:
                        errors.append(error)
                    done.release()

                for _ in range(outstanding):
                    counter.inc(callback=finished)
                for _ in range(outstanding):
                    done.acquire()
                if errors:
                    raise RuntimeError(f"pysyncobj writes failed: {errors[:3]}")
            conn.send(outstanding * rounds / (time.perf_counter() - start))
        elif command == "write":
            # One write from this (surviving) node, forwarded to whoever leads. Short
            # attempts: a command forwarded to the dead leader is lost, and PySyncObj's
            # sync call would wait for its whole timeout before we could retry.
            (attempt_s,) = args
            deadline = time.monotonic() + 30
            ok = False
            while not ok and time.monotonic() < deadline:
                try:
                    ok = counter.inc(sync=True, timeout=attempt_s) is not None
                except Exception:  # SyncObjException: timeout or no leader yet; retry
                    time.sleep(0.002)
            conn.send(ok)
        elif command == "stop":
            counter.destroy()
            conn.send(True)
            return


class PySyncObjCluster:
    """Three PySyncObj processes (spawned), driven over pipes."""

    def __init__(self, batch: bool) -> None:
        import socket

        self.batch = batch
        self.ports = []
        for _ in range(3):
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                self.ports.append(s.getsockname()[1])
        self.ctx = multiprocessing.get_context("spawn")
        self.nodes: list[Any] = [None, None, None]
        for i in range(3):
            self.start(i)

    def start(self, i: int) -> None:
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(
            target=_pysyncobj_node,
            args=(i, self.ports, self.batch, SCHEDULING["kind"], child),
            daemon=True,
        )
        process.start()
        self.nodes[i] = (process, parent)

    def call(self, i: int, *message: Any) -> Any:
        _process, conn = self.nodes[i]
        conn.send(message)
        answer = conn.recv()
        if isinstance(answer, tuple) and answer and answer[0] == "error":
            raise RuntimeError(f"pysyncobj node {i} failed:\n{answer[1]}")
        return answer

    def wait_leader(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = [self.call(i, "status") if self.nodes[i] else (False, False) for i in range(3)]
            leaders = [i for i, (leads, _) in enumerate(status) if leads]
            if len(leaders) == 1 and all(ready for _, ready in status):
                return leaders[0]
            time.sleep(0.05)
        raise RuntimeError("pysyncobj elected no leader")

    def kill(self, i: int) -> None:
        process, conn = self.nodes[i]
        os.kill(process.pid, signal.SIGKILL)
        process.join()
        conn.close()
        self.nodes[i] = None

    def close(self) -> None:
        for i, node in enumerate(self.nodes):
            if node is not None:
                process, conn = node
                try:
                    conn.send(("stop",))
                    conn.poll(5) and conn.recv()
                except (OSError, EOFError):
                    pass
                process.join(5)
                if process.is_alive():
                    process.kill()
                    process.join()
                self.nodes[i] = None


def pysyncobj_throughput(writes: int, outstanding: int, rounds: int) -> dict[str, float]:
    result = {}
    cluster = PySyncObjCluster(batch=False)
    try:
        leader = cluster.wait_leader()
        cluster.call(leader, "blocking", 50)
        pids = [node[0].pid for node in cluster.nodes if node is not None]
        blocking = with_cpu(pids, writes, lambda: cluster.call(leader, "blocking", writes))
        result["blocking"] = blocking["rate"]
        result["blocking_cpu_us"] = blocking.get("cpu_us", 0.0)
        result["blocking_busy"] = blocking.get("busy", 0.0)
    finally:
        cluster.close()
    cluster = PySyncObjCluster(batch=True)  # its defaults, which batch: best for pipelining
    try:
        leader = cluster.wait_leader()
        cluster.call(leader, "pipelined", outstanding, 1)
        result["pipelined"] = cluster.call(leader, "pipelined", outstanding, rounds)
    finally:
        cluster.close()
    return result


def pysyncobj_failover(trials: int, attempt_s: float = 0.02) -> list[float]:
    times = []
    cluster = PySyncObjCluster(batch=False)
    try:
        for trial in range(trials):
            leader = cluster.wait_leader()
            survivor = (leader + 1) % 3
            cluster.call(survivor, "write", 1.0)
            time.sleep(0.1 + 0.05 * (trial % 3))
            start = time.monotonic()
            cluster.kill(leader)
            if not cluster.call(survivor, "write", attempt_s):
                raise RuntimeError("pysyncobj: no write committed after the kill")
            times.append(time.monotonic() - start)
            cluster.start(leader)
    finally:
        cluster.close()
    return times


# ==============================================================================================
# Report
# ==============================================================================================


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _best(runs: list[dict[str, float]]) -> dict[str, float]:
    best = {key: max(run[key] for run in runs) for key in runs[0]}
    # The CPU figures describe one run: the one whose blocking writer was fastest.
    rate_key = "blocking_inproc" if "blocking_inproc" in runs[0] else "blocking"
    fastest = max(runs, key=lambda run: run[rate_key])
    for key in ("blocking_cpu_us", "blocking_busy"):
        if key in fastest:
            best[key] = fastest[key]
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20, help="failover trials (default 20)")
    parser.add_argument("--writes", type=int, default=500, help="blocking writes per run")
    parser.add_argument("--outstanding", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="pipelined rounds")
    parser.add_argument("--quick", action="store_true", help="small run (5 trials, 200 writes)")
    parser.add_argument("--no-pysyncobj", action="store_true", help="skip the baseline")
    parser.add_argument("--repeat", type=int, default=2, help="throughput runs (best is kept)")
    parser.add_argument(
        "--scheduling",
        choices=["batch", "normal"],
        default="normal",
        help="how the OS schedules every node process, ours and PySyncObj's (default normal)",
    )
    args = parser.parse_args()
    SCHEDULING["kind"] = args.scheduling
    if args.quick:
        args.trials, args.writes, args.rounds, args.repeat = 5, 200, 2, 1

    # Throughput: ours and PySyncObj take turns, --repeat times; each figure is the best of
    # its runs (the machine is shared: the best run is the one least disturbed by others).
    runs: dict[str, list[dict[str, float]]] = {"fsync": [], "nofsync": [], "base": []}
    for _ in range(args.repeat):
        runs["fsync"].append(ours_throughput(True, args.writes, args.outstanding, args.rounds))
        runs["nofsync"].append(ours_throughput(False, args.writes, args.outstanding, args.rounds))
        if not args.no_pysyncobj:
            runs["base"].append(pysyncobj_throughput(args.writes, args.outstanding, args.rounds))
    ours = {"fsync": _best(runs["fsync"]), "nofsync": _best(runs["nofsync"])}
    base: dict[str, Any] = _best(runs["base"]) if runs["base"] else {}
    failover = ours_failover(args.trials, fsync=True)
    failover_nofsync = ours_failover(args.trials, fsync=False)
    base_failover: list[float] = []
    if not args.no_pysyncobj:
        base_failover = pysyncobj_failover(args.trials)

    def ratio(value: float, reference: float | None) -> str:
        return f"{value / reference:5.2f}x" if reference else "   - "

    rows = [
        ("blocking, in leader process", "blocking_inproc", "blocking"),
        ("blocking, client over RPC", "blocking_rpc", "blocking"),
        ("1000 outstanding, in leader", "pipelined_inproc", "pipelined"),
        ("1000 outstanding, over RPC", "pipelined_rpc", "pipelined"),
    ]
    print(f"node scheduling: {args.scheduling} (ours and PySyncObj's alike)")
    print(f"{'writes/s':32} {'fsync on':>10} {'fsync off':>10} {'PySyncObj':>10} {'off/PSO':>8}")
    for label, key, base_key in rows:
        reference = base.get(base_key)
        print(
            f"{label:32} {ours['fsync'][key]:10.0f} {ours['nofsync'][key]:10.0f} "
            f"{reference or 0:10.0f} {ratio(ours['nofsync'][key], reference):>8}"
        )
    if ours["nofsync"].get("blocking_cpu_us"):
        # Why one blocking writer is what it is: the CPU a write costs (all three nodes),
        # and how much of the two cores the cluster kept busy while writing.
        print(f"{'blocking, in leader, fsync off':32} {'CPU us/write':>13} {'cores busy':>11}")
        print(
            f"{'ours':32} {ours['nofsync']['blocking_cpu_us']:13.0f} "
            f"{ours['nofsync']['blocking_busy']:11.2f}"
        )
        if base.get("blocking_cpu_us"):
            print(f"{'PySyncObj':32} {base['blocking_cpu_us']:13.0f} {base['blocking_busy']:11.2f}")
    med, p95 = statistics.median(failover), _percentile(failover, 0.95)
    med_off, p95_off = statistics.median(failover_nofsync), _percentile(failover_nofsync, 0.95)
    print(f"{'failover (s)':32} {'median':>10} {'p95':>10}")
    print(f"{'ours (fsync on)':32} {med:10.3f} {p95:10.3f}")
    print(f"{'ours (fsync off)':32} {med_off:10.3f} {p95_off:10.3f}")
    if base_failover:
        base_med, base_p95 = statistics.median(base_failover), _percentile(base_failover, 0.95)
        print(f"{'PySyncObj (in memory)':32} {base_med:10.3f} {base_p95:10.3f}")
        print(f"{'ours fsync on / PySyncObj':32} {med / base_med:9.2f}x {p95 / base_p95:9.2f}x")
        print(
            f"{'ours fsync off / PySyncObj':32} {med_off / base_med:9.2f}x "
            f"{p95_off / base_p95:9.2f}x"
        )
    if DISTURBED_RUNS:
        print(f"({DISTURBED_RUNS} throughput runs were disturbed by a leader change and repeated)")
    summary = {
        "repeat": args.repeat,
        "scheduling": args.scheduling,
        "disturbed_runs": DISTURBED_RUNS,
        "ours_fsync": ours["fsync"],
        "ours_nofsync": ours["nofsync"],
        "ours_failover_s": {"median": med, "p95": p95, "trials": len(failover)},
        "ours_failover_nofsync_s": {
            "median": med_off,
            "p95": p95_off,
            "trials": len(failover_nofsync),
        },
        "pysyncobj": base,
    }
    if base_failover:
        summary["pysyncobj_failover_s"] = {
            "median": statistics.median(base_failover),
            "p95": _percentile(base_failover, 0.95),
            "trials": len(base_failover),
        }
    print(json.dumps(summary, sort_keys=True))


if __name__ == "__main__":
    main()
