"""The chapter-5 experiments: an outage is measured, naive mirroring drifts apart."""

from __future__ import annotations

import math

import pytest

from distlab.cluster import Cluster
from distlab.cluster.experiments import MirrorClient, measure_outage, read_all, write_keys
from distlab.cluster.programs import DurableKV

pytestmark = pytest.mark.cluster


def test_recoverable_but_unavailable_while_down() -> None:
    with Cluster.start(1, program=DurableKV, seed=31) as cluster:
        write_keys(cluster.client("n0"), 20)
        outage = measure_outage(cluster, "n0", down_s=0.5)
        assert outage.failed_calls > 0
        assert not math.isnan(outage.outage_s) and outage.outage_s >= 0.5
        assert any(ok for t, ok in outage.samples if t < 0)  # up before the crash
        assert outage.samples[-1][1]  # and up again at the end
        assert len(read_all(cluster.client("n0"))) == 20  # recovered everything


def test_naive_mirroring_drifts_after_a_missed_update() -> None:
    with Cluster.start(2, program=DurableKV, seed=32) as cluster:
        mirror = MirrorClient({name: cluster.client(name) for name in cluster.names})
        assert mirror.put("x", "1") == ["n0", "n1"]
        cluster.crash("n1")
        assert mirror.put("x", "2") == ["n0"]  # n1 misses this update
        cluster.restart("n1")
        mirror.clients["n1"] = cluster.client("n1")
        assert mirror.get_each("x") == {"n0": "2", "n1": "1"}
        assert mirror.missed == {"n0": 0, "n1": 1}
