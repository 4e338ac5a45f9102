"""The weak (eventually consistent) store in real processes: available, stale, convergent.

Real node processes (marked ``cluster``); waits are bounded and generous; nothing asserts on
speed. The claims: a partition does not stop it (no failed or indefinite operation), it
really serves stale reads, it converges after the heal, and acked writes survive a crash of
the replica that took them.
"""

from __future__ import annotations

import time

import pytest

from distlab.check import measure_staleness
from distlab.check.nemesis import Fault, Nemesis
from distlab.cluster import Cluster, ClusterError
from distlab.cluster.programs import Echo
from distlab.kv import Clerk
from distlab.kv.workload import run_workload
from distlab.rpc import Client

pytestmark = pytest.mark.cluster


def dump(cluster: Cluster, name: str) -> dict[str, str]:
    with Client(cluster.address(name), name="observer") as client:
        return client.call("WeakKV.dump", timeout=5.0)


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def test_weak_store_stays_available_in_a_partition_serves_stale_reads_and_converges() -> None:
    with Cluster.start(3, service="kv", consistency="weak", seed=3) as cluster:
        nemesis = Nemesis(schedule=[Fault(0.8, "isolate-leader"), Fault(2.2, "heal")])
        result = run_workload(cluster, clients=4, duration_s=3.0, nemesis=nemesis, seed=3)
    s = result.summary
    assert [str(e) for e in result.faults] == ["isolate-leader n0 | n1,n2", "heal"]
    assert s.ok == s.operations > 100, "a weak store answers every request, partition or not"
    assert s.stale_reads > 0, "the weak mode must be demonstrably weak"
    assert s.linearizable is False
    assert s.converged is True and s.convergence_s is not None
    # Reads inside the partition miss writes acknowledged on the other side.
    partition_start, heal = result.faults[0].time, result.faults[1].time
    every = measure_staleness(result.history, examples=10**6).examples
    assert len(every) == s.stale_reads
    during = [r for r in every if partition_start <= r.op.invoke <= heal]
    assert during, "no stale read while the partition was in force"


def test_replicas_diverge_during_a_partition_and_agree_after_heal() -> None:
    with Cluster.start(3, service="kv", consistency="weak", seed=4) as cluster:
        near = cluster.client(preferred="n0", client_id="near")  # no node name: a KV Clerk
        far = cluster.client(preferred="n2", client_id="far")
        assert isinstance(near, Clerk) and near.consistency == "weak"
        assert cluster.chosen == {"service": "kv", "consistency": "weak"}
        near.put("x", "before")
        wait_until(lambda: dump(cluster, "n2").get("x") == "before", "the push to reach n2")
        cluster.partition(["n0"], ["n1", "n2"])
        near.put("x", "inside")  # acknowledged by n0 alone
        time.sleep(1.5)  # several anti-entropy rounds: none can cross the partition
        assert far.get("x") == "before", "a read on the other side is stale"
        assert dump(cluster, "n1")["x"] == "before"
        cluster.heal()
        wait_until(
            lambda: all(dump(cluster, n).get("x") == "inside" for n in cluster.names),
            "anti-entropy to spread the write after the heal",
        )
        assert far.get("x") == "inside"


def test_acknowledged_writes_survive_a_crash_of_the_replica_that_took_them() -> None:
    with Cluster.start(3, service="kv", consistency="weak", seed=5) as cluster:
        cluster.isolate("n1")  # no peer has a copy: only n1's disk does
        clerk = Clerk.for_cluster(cluster, preferred="n1", client_id="c")
        for i in range(5):
            clerk.append("log", f"{i};")
        cluster.crash("n1")
        cluster.restart("n1")
        assert dump(cluster, "n1")["log"] == "0;1;2;3;4;"
        clerk.close()


def test_cluster_client_needs_a_kv_cluster_and_named_clients_are_unchanged() -> None:
    with Cluster.start(1, program=Echo) as cluster:
        assert cluster.chosen == {}
        with pytest.raises(ClusterError, match="service='kv'"):
            cluster.client()
        assert cluster.client("n0").call("Echo.echo", "hi", timeout=5.0) == "hi"
        with pytest.raises(TypeError, match="unexpected options"):
            cluster.client("n0", preferred="n0")


def test_service_options_are_checked_before_any_process_starts() -> None:
    with pytest.raises(ClusterError, match="consistency must be one of"):
        Cluster.start(3, service="kv", consistency="eventual")
    with pytest.raises(ClusterError, match="do not pass program"):
        Cluster.start(3, program=Echo, service="kv")
    with pytest.raises(ClusterError, match=r"no system named 'k-v'; registered systems: .*kv"):
        Cluster.start(3, service="k-v")
