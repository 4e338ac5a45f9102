"""The quorum store (N=3, tunable R and W) in real processes: R + W > N is what saves reads."""

from __future__ import annotations

import time

import pytest

from distlab.check.nemesis import Nemesis
from distlab.cluster import Cluster
from distlab.kv import Clerk
from distlab.kv.quorum import CODEC
from distlab.kv.workload import run_workload
from distlab.rpc import Client

pytestmark = pytest.mark.cluster


def replica_value(cluster: Cluster, name: str, key: str) -> str:
    with Client(cluster.address(name), name="observer") as client:
        return CODEC.decode(client.call("QuorumKV.read", key, timeout=5.0)).value


def test_reads_are_stale_when_quorums_miss_each_other_and_fresh_when_they_meet() -> None:
    with Cluster.start(3, service="kv", consistency="quorum", seed=21) as cluster:
        # w=3 first: every replica has "old" before n0 goes down (with w=1 the put could be
        # acknowledged before n0 stored it, and n0 would come back with nothing).
        cluster.client(client_id="setup", w=3).put("x", "old")
        writer = cluster.client(client_id="writer", w=1)
        cluster.crash("n0")
        writer.put("x", "new")  # w=1: acknowledged while n0 is down, so n0 never hears of it
        # The put returned after one ack; let the other live replica store it too, so that any
        # read quorum of two that includes n0 meets "new".
        deadline = time.monotonic() + 10.0
        while {replica_value(cluster, name, "x") for name in ("n1", "n2")} != {"new"}:
            assert time.monotonic() < deadline, "the live replicas never both stored the write"
            time.sleep(0.02)
        cluster.restart("n0")
        assert replica_value(cluster, "n0", "x") == "old"
        one = cluster.client(client_id="r1", preferred="n0", r=1)
        two = cluster.client(client_id="r2", preferred="n0", r=2)
        three = cluster.client(client_id="r3", preferred="n0", r=3)
        # The arithmetic takes each side's own size: the reader's r, the writer's w = 1.
        assert not one.meets_writes_of(writer) and not two.meets_writes_of(writer)
        assert three.meets_writes_of(writer), "r + w = 3 + 1 > N = 3"
        assert one.get("x") == "old", "r + w = 2 <= N = 3: the read quorum missed the write"
        assert two.get("x") == "new", "it may meet the write (n1 holds it), without a promise"
        assert three.get("x") == "new", "r + w = 4 > N: the quorums must meet"
        # That read wrote back what it found, so the lagging replica has caught up.
        assert replica_value(cluster, "n0", "x") == "new"
        assert one.get("x") == "new"


def test_majority_quorums_keep_puts_and_gets_linearizable_under_crashes_and_pauses() -> None:
    with Cluster.start(3, service="kv", consistency="quorum", seed=22) as cluster:
        nemesis = Nemesis(22, faults=("crash", "pause"), gap_s=(0.3, 0.8), hold_s=(0.8, 1.2))
        result = run_workload(
            cluster, clients=4, duration_s=4.0, nemesis=nemesis, seed=22, mix=(0.5, 0.0, 0.5)
        )
    s = result.summary
    context = f"{s}; faults {[str(e) for e in result.faults]}"
    assert nemesis.statistics().performed >= 2, context
    assert s.ok > 50, context
    assert s.verdict == "ok", f"{result.check.explanation}\n{context}"
    assert s.acknowledged_writes_lost == 0 and s.stale_reads == 0, context


def test_quorum_options_are_checked() -> None:
    servers = {"n0": ("127.0.0.1", 1), "n1": ("127.0.0.1", 2), "n2": ("127.0.0.1", 3)}
    with pytest.raises(ValueError, match="r, w <= N"):
        Clerk(servers, consistency="quorum", r=4)
    with pytest.raises(ValueError, match="r, w <= N"):
        Clerk(servers, consistency="quorum", w=0)
    assert Clerk(servers, consistency="quorum").quorums_intersect  # majorities by default
