"""Redis for real: asynchronous replication shows stale replica reads, and a failover by
hand loses writes the old primary had acknowledged."""

from __future__ import annotations

import time

import pytest

from distlab.engines.base import EngineError
from distlab.engines.experiments import redis_experiment
from distlab.engines.redis import RedisReplicaSet

pytestmark = [pytest.mark.engines, pytest.mark.cluster]


def _wait_for(condition, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_cut_replication_then_failover_loses_the_acknowledged_write(redis_binary):
    with RedisReplicaSet.start() as rs:
        primary = rs.client("n0")
        primary.append("x", "a;")
        replica = rs.client("n1")
        _wait_for(lambda: replica.get("x") == "a;")
        with pytest.raises(EngineError) as refused:
            replica.put("x", "no")  # replicas are read-only: rejected, so definite
        assert refused.value.definite

        rs.partition(["n0"], ["n1", "n2"])
        primary.append("x", "b;")  # acknowledged by the primary alone
        assert primary.get("x") == "a;b;"
        time.sleep(0.2)
        assert replica.get("x") == "a;", "a cut-off replica serves its old copy"

        rs.crash("n0")
        rs.heal()
        rs.promote("n1")  # REPLICAOF NO ONE, by hand
        assert rs.primary == "n1"
        statuses = rs.status()
        assert statuses["n1"].fields["role"] == "primary"
        assert statuses["n0"].state == "crashed"
        rs.client("n1").append("x", "c;")
        assert rs.client("n1").get("x") == "a;c;", "the acknowledged 'b;' is gone"
        _wait_for(lambda: rs.client("n2").get("x") == "a;c;")
        rs.restart("n0")  # comes back empty, as a replica of n1
        rs.wait_for_replicas()
        assert rs.client("n0").get("x") == "a;c;"


def test_replica_reads_are_stale_and_failover_loses_acknowledged_writes(redis_binary):
    result = redis_experiment(seed=3, duration_s=3.0)
    summary = result.summary
    assert [e.action for e in result.faults] == [
        "partition",
        "crash",
        "heal",
        "promote",
        "restart",
    ]
    assert not [e for e in result.faults if e.error], [str(e) for e in result.faults]
    assert "REPLICAOF NO ONE" in result.notes
    assert summary.stale_reads > 0
    assert summary.acknowledged_writes_lost > 0
    assert all(w.status == "ok" and w.kind == "append" for w in result.lost_writes)
    assert summary.linearizable is False
