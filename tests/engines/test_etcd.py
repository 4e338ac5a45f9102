"""etcd for real: a 3-member cluster on loopback, its faults, and the two read modes' verdicts.

Linearizable reads must check linearizable under the nemesis with no acknowledged write lost;
serializable reads from a follower cut off from the leader must be caught stale.
"""

from __future__ import annotations

import time

import psutil
import pytest

from distlab.engines.base import EngineError
from distlab.engines.etcd import EtcdCluster
from distlab.engines.experiments import etcd_experiment

pytestmark = [pytest.mark.engines, pytest.mark.cluster]


def _wait_for(condition, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_an_isolated_follower_serves_stale_serializable_reads_until_healed(etcd_binary):
    etcd = EtcdCluster.start(3)
    pids = [server.pid for server in etcd.servers.values()]
    try:
        leader = etcd.wait_for_leader()
        follower = next(name for name in etcd.names if name != leader)
        writer = etcd.client(leader)
        writer.put("x", "1")
        writer.append("x", "+a")
        assert writer.get("x") == "1+a"
        stale = etcd.client(follower, serializable=True)
        _wait_for(lambda: stale.get("x") == "1+a")

        etcd.isolate(follower)
        writer.put("x", "2")  # a majority (leader + the other follower) acknowledges it
        assert writer.get("x") == "2"
        assert stale.get("x") == "1+a", "the cut-off follower must still show the old value"
        blocked = etcd.client(follower, timeout_s=1.0)  # a linearizable read needs a quorum
        with pytest.raises(EngineError) as failure:
            blocked.get("x")
        assert not failure.value.definite or "no leader" in str(failure.value)

        etcd.heal()
        _wait_for(lambda: stale.get("x") == "2")
        assert {e.kind for e in etcd.events()} >= {"start", "partition", "heal"}
    finally:
        etcd.close()
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )


def test_a_killed_member_restarts_from_its_data_directory(etcd_binary):
    with EtcdCluster.start(3) as etcd:
        leader = etcd.wait_for_leader()
        etcd.client(leader).put("k", "v1")
        etcd.crash(leader)
        assert etcd.status()[leader].state == "crashed"
        survivor = etcd.wait_for_leader()
        assert survivor != leader
        etcd.client(survivor).put("k", "v2")
        etcd.restart(leader)
        back = etcd.client(leader, serializable=True)
        _wait_for(lambda: back.get("k") == "v2")
        etcd.pause(leader)
        assert etcd.status()[leader].state == "paused"
        etcd.resume(leader)
        etcd.wait_for_member(leader)
        stats = etcd.statistics()
        assert (stats.members, stats.up, stats.crashes, stats.restarts) == (3, 3, 1, 1)
        assert stats.faults_injected == 2  # the crash and the pause


def test_linearizable_reads_check_linearizable_under_the_nemesis(etcd_binary):
    result = etcd_experiment("linearizable", seed=1, duration_s=4.0)
    summary = result.summary
    assert summary.system == "etcd" and summary.consistency == "linearizable reads"
    assert summary.faults >= 2, [str(e) for e in result.faults]
    assert not [e for e in result.faults if e.error], [str(e) for e in result.faults]
    assert summary.ok > 20
    assert result.check.verdict == "ok", result.check.explanation
    assert summary.linearizable is True
    assert summary.stale_reads == 0
    assert summary.acknowledged_writes_lost == 0
    assert set(result.final_state) == {"lin1-k0", "lin1-k1"}


def test_serializable_reads_from_a_cut_off_follower_are_stale(etcd_binary):
    result = etcd_experiment("serializable", seed=2, duration_s=3.5)
    summary = result.summary
    assert [e.action for e in result.faults] == ["isolate", "heal"]
    assert summary.linearizable is False, result.check.explanation
    assert summary.stale_reads > 0
    # The explanation names a stale read, or reads going back in time (a read older than an
    # earlier one): both are what a lagging copy produces.
    assert "stale read" in result.check.explanation or "back in time" in result.check.explanation
    assert result.check.witness, "a violation comes with operations to highlight"
    assert summary.acknowledged_writes_lost == 0  # stale, but nothing acknowledged is lost


def test_distlabs_own_nemesis_drives_etcd_through_the_same_verbs(etcd_binary):
    nemesis_module = pytest.importorskip("distlab.check.nemesis")
    Fault, Nemesis = nemesis_module.Fault, nemesis_module.Nemesis
    schedule = [
        Fault(0.0, "isolate-leader"),
        Fault(0.3, "heal"),
        Fault(0.4, "crash", nodes=("n1",)),
        Fault(0.8, "restart", nodes=("n1",)),
    ]
    with EtcdCluster.start(3) as etcd:
        leader = etcd.wait_for_leader()
        nemesis = Nemesis(schedule=schedule).start(etcd, duration_s=1.0)
        _wait_for(lambda: len(nemesis.events) == len(schedule))
        nemesis.stop()
        assert [str(e).split()[0] for e in nemesis.events] == [
            "isolate-leader",
            "heal",
            "crash",
            "restart",
        ]
        assert not [e for e in nemesis.events if e.error], [str(e) for e in nemesis.events]
        assert leader in nemesis.events[0].detail.split(" | ")[0]
        kinds = [e.kind for e in etcd.events()]
        assert kinds[-4:] == ["partition", "heal", "crash", "restart"]
        etcd.wait_for_leader()
