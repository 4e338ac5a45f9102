from __future__ import annotations

import pytest

from distlab.demos.toy_store import NaiveReplicas, ToyServer, Unavailable, crash_and_repair


def test_volatile_server_forgets_after_crash(tmp_path):
    with ToyServer("a", tmp_path, durable=False) as server:
        server.put("x", "1")
        assert server.get("x") == "1"
        outage = crash_and_repair(server, "x", repair_after_s=0.1)
    assert outage.value_after_restart is None
    assert outage.failed_requests > 0


def test_durable_server_recovers_acknowledged_put(tmp_path):
    with ToyServer("a", tmp_path, durable=True) as server:
        for i in range(20):
            server.put(f"k{i}", str(i))
        outage = crash_and_repair(server, "k19", repair_after_s=0.1)
        assert outage.value_after_restart == "19"
        assert server.get("k0") == "0"
    assert outage.unavailable_s >= 0.1


def test_down_server_is_unavailable(tmp_path):
    server = ToyServer("a", tmp_path, durable=False)
    with pytest.raises(Unavailable, match="down"):
        server.get("x")


def test_naive_replicas_drift_apart_after_a_missed_update(tmp_path):
    a = ToyServer("a", tmp_path, durable=True).start()
    b = ToyServer("b", tmp_path, durable=True).start()
    try:
        replicas = NaiveReplicas([a, b])
        assert replicas.put("x", "1") == ["a", "b"]
        b.crash()
        assert replicas.put("x", "2") == ["a"]
        b.restart()
        assert replicas.read_each("x") == {"a": "2", "b": "1"}
    finally:
        a.close()
        b.close()
