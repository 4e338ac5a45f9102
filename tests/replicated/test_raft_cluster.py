"""Raft on real processes: elections, replication, SIGKILL, partitions, disk recovery, snapshots.

Each test starts three node processes running RaftPeer. Waits are bounded by generous
deadlines (the machine is shared); nothing asserts on speed.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from distlab.cluster import Cluster
from distlab.replicated import RaftClient, RaftPeer, TimedOut, decode_reply, measure_failover
from distlab.rpc import RemoteError

pytestmark = pytest.mark.cluster

DEADLINE_S = 30.0


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE_S) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def leaders(cluster: Cluster) -> dict[str, int]:
    """{name: term} of every live node that believes it leads."""
    return {
        name: status.fields["term"]
        for name, status in cluster.status().items()
        if status.alive and status.fields.get("role") == "leader"
    }


def one_leader(cluster: Cluster, among: list[str] | None = None) -> str | None:
    """The leader if exactly one node of ``among`` leads and all of them follow it."""
    statuses = {n: s for n, s in cluster.status().items() if among is None or n in among}
    found = [n for n, s in statuses.items() if s.alive and s.fields.get("role") == "leader"]
    if len(found) != 1:
        return None
    leader = found[0]
    agree = all(s.fields.get("leader") == leader for s in statuses.values() if s.alive)
    return leader if agree else None


def applied(cluster: Cluster, name: str) -> list[Any]:
    return cluster.client(name, client_name="controller").call("Replicated.query", timeout=5.0)


def submit_all(client: RaftClient, commands: list[Any]) -> None:
    for command in commands:
        answer = client.submit(command, timeout_s=DEADLINE_S)
        assert answer.ok, f"{command} was not committed: {answer}"


def start(**options: Any) -> Cluster:
    return Cluster.start(3, program=RaftPeer, seed=5, **options)


def test_one_leader_replication_and_garbage_messages() -> None:
    with start() as cluster:
        leader = wait_until(lambda: one_leader(cluster), "exactly one leader")
        terms = {s.fields["term"] for s in cluster.status().values()}
        assert len(terms) == 1, f"nodes disagree on the term: {terms}"

        client = RaftClient(cluster)
        commands = [["put", f"k{i}", i] for i in range(20)]
        submit_all(client, commands)
        for name in cluster.names:
            wait_until(lambda n=name: applied(cluster, n) == commands, f"{name} applies all")
        fields = cluster.status()[leader].fields
        # 20 commands plus one blank entry per term that had a leader (§8): at least this one
        assert fields["log_length"] == fields["commit_index"] == fields["last_applied"]
        assert 21 <= fields["log_length"] <= 20 + fields["term"], fields

        # Garbage on the peer channel is an error reply; the node keeps serving.
        follower = next(n for n in cluster.names if n != leader)
        raw = cluster.client(follower, client_name="controller")
        bad_batches = [
            ["n0", "not a list"],
            ["n0", [{"type": "AppendEntries", "term": "x"}]],
            ["n0", [{"type": "__import__('os')"}]],
            ["mallory", []],
        ]
        for args in bad_batches:
            with pytest.raises(RemoteError, match="ValueError"):
                raw.call("Raft.step", *args, timeout=5.0)
        submit_all(client, [["after", "garbage"]])
        wait_until(
            lambda: applied(cluster, follower) == [*commands, ["after", "garbage"]],
            "the follower still replicating after garbage",
        )
        assert one_leader(cluster) == leader


def test_leader_crash_reelection_and_restart_catches_up() -> None:
    with start() as cluster:
        old = wait_until(lambda: one_leader(cluster), "a first leader")
        client = RaftClient(cluster)
        before = [["before", i] for i in range(10)]
        submit_all(client, before)

        cluster.crash(old)  # SIGKILL
        survivors = [n for n in cluster.names if n != old]
        new = wait_until(lambda: one_leader(cluster, survivors), "a new leader")
        assert new != old
        after = [["after", i] for i in range(10)]
        submit_all(client, after)
        for name in survivors:
            wait_until(lambda n=name: applied(cluster, n) == before + after, f"{name} in sync")

        cluster.restart(old)  # recovers its log from disk, then catches up from the leader
        wait_until(lambda: applied(cluster, old) == before + after, "the restarted node catches up")
        assert "raft: recovered term" in cluster.logs(old)
        recovered = [line for line in cluster.logs(old).splitlines() if "recovered" in line]
        entries = int(re.search(r"(\d+) entries", recovered[-1]).group(1))
        assert entries >= 10, recovered  # the 10 commands (and a no-op) it stored, from disk
        assert cluster.status()[old].fields["role"] == "follower"


def test_measure_failover_times_a_write_committed_by_a_new_leader() -> None:
    with start() as cluster:
        old = wait_until(lambda: one_leader(cluster), "a first leader")
        client = RaftClient(cluster)
        submit_all(client, [["before"]])
        failover = measure_failover(cluster, old, client, ["after"], timeout_s=DEADLINE_S)
        assert failover.ok, failover
        assert failover.old_leader == old and failover.new_leader in cluster.names
        assert failover.new_leader != old and failover.seconds is not None
        assert cluster.status()[old].state == "crashed"
        assert applied(cluster, failover.new_leader) == [["before"], ["after"]]
        assert f"{old} crashed; {failover.new_leader} took over" in str(failover)
        with pytest.raises(ValueError, match="no node named 'n9'"):
            measure_failover(cluster, "n9", client, ["never"])


def test_partitioned_minority_leader_cannot_commit_then_converges() -> None:
    with start() as cluster:
        old = wait_until(lambda: one_leader(cluster), "a first leader")
        client = RaftClient(cluster)
        submit_all(client, [["base", 0]])
        majority = [n for n in cluster.names if n != old]
        old_fields = cluster.status()[old].fields
        old_term = old_fields["term"]

        cluster.partition([old], majority)
        lonely = cluster.client(old, client_name="controller")
        answer = decode_reply(lonely.call("Replicated.submit", ["lost", 1], 1.0, timeout=5.0))
        assert isinstance(answer, TimedOut), answer

        new = wait_until(lambda: one_leader(cluster, majority), "a majority leader")
        assert cluster.status()[new].fields["term"] > old_term
        majority_client = RaftClient(cluster, client_name="majority-client")
        majority_client.leader = new
        submit_all(majority_client, [["majority", 1]])
        # nothing new committed on the isolated side
        statuses = cluster.status()
        assert statuses[old].fields["commit_index"] == old_fields["commit_index"]
        # Cut off, the old leader still says "leader": the status reads it as stale.
        assert statuses[old].fields["role"] == "leader", statuses[old]
        assert statuses.stale_leaders == [old]
        assert f"leader (term {old_term}, stale)" in str(statuses)
        assert f"leader (term {statuses[new].fields['term']})" in str(statuses)

        cluster.heal()
        wait_until(lambda: one_leader(cluster) == new, "the old leader steps down")
        expected = [["base", 0], ["majority", 1]]
        for name in cluster.names:
            wait_until(lambda n=name: applied(cluster, n) == expected, f"{name} converges")


def test_restart_all_from_disk_keeps_acknowledged_entries() -> None:
    with start() as cluster:
        wait_until(lambda: one_leader(cluster), "a first leader")
        client = RaftClient(cluster)
        acknowledged = [["ack", i] for i in range(25)]
        submit_all(client, acknowledged)
        for name in cluster.names:
            cluster.crash(name)
        for name in cluster.names:
            cluster.restart(name)
        wait_until(lambda: one_leader(cluster), "a leader after the restart")
        # Recovered entries are from an earlier term: they commit only under an entry of
        # the new term (Figure 8). The new leader's blank entry (§8) does that unprompted.
        for name in cluster.names:
            wait_until(
                lambda n=name: applied(cluster, n) == acknowledged,
                f"{name} re-applies every acknowledged entry before any new write",
            )
        submit_all(client, [["after-restart", 0]])
        for name in cluster.names:
            wait_until(
                lambda n=name: applied(cluster, n) == [*acknowledged, ["after-restart", 0]],
                f"{name} holds every acknowledged entry",
            )


def test_snapshot_installed_on_far_behind_node() -> None:
    with start(snapshot_every=20) as cluster:
        leader = wait_until(lambda: one_leader(cluster), "a first leader")
        client = RaftClient(cluster)
        lagging = next(n for n in cluster.names if n != leader)
        cluster.crash(lagging)
        commands = [["c", i] for i in range(70)]
        submit_all(client, commands)
        wait_until(
            lambda: cluster.status()[leader].fields["snapshot_index"] >= 60, "leader snapshots"
        )
        cluster.restart(lagging)
        wait_until(lambda: applied(cluster, lagging) == commands, "the lagging node catches up")
        # It started with an empty disk, so a restored snapshot can only be the leader's.
        assert "restored from snapshot" in cluster.logs(lagging)
        assert cluster.status()[lagging].fields["snapshot_index"] >= 60
        assert cluster.status()[lagging].fields["snapshots_installed"] >= 1  # InstallSnapshot
        # Restart once more: the node now recovers from its own snapshot + log.
        cluster.crash(lagging)
        cluster.restart(lagging)
        wait_until(lambda: applied(cluster, lagging) == commands, "recovery from the snapshot")
        lines = cluster.logs(lagging).splitlines()
        recovered = [line for line in lines if "raft: recovered" in line][-1]
        assert "snapshot at 0" not in recovered, recovered
