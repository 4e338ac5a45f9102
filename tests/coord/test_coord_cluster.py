"""The coordination service in real processes: real sockets, real SIGKILL, real disks.

One 3-server cluster for the module (its start costs a second); a test that crashes or cuts a
server restores it before it ends. Waits are on conditions (``cluster.wait_for``), never sleeps.
"""

from __future__ import annotations

import threading

import pytest
from kazoo.exceptions import BadVersionError, NodeExistsError, NoNodeError, SessionExpiredError

from distlab.check.coordination import CoordHistory, check_coordination, check_fenced_writes
from distlab.cluster import Cluster
from distlab.coord import (
    FencedResource,
    LeaderElection,
    Lock,
    counter_race,
    read_config,
    recorded_workload,
    write_config,
)
from distlab.replicated import wait_for_one_leader

# The module shares one cluster (its fixture closes it after the last test), so its node
# processes outlive each single test by design.
pytestmark = [pytest.mark.cluster, pytest.mark.allow_leftover_processes]


@pytest.fixture(scope="module")
def cluster():
    with Cluster.start(3, service="coord", seed=7) as running:
        yield running


def leader_of(cluster) -> str:
    return wait_for_one_leader(cluster, timeout_s=10.0)


def test_writes_reads_watches_and_errors(cluster) -> None:
    history = CoordHistory()
    a = cluster.client(server="n0", client_id="a", history=history)
    b = cluster.client(server="n1", client_id="b", history=history)
    try:
        a.create("/app", b"v1")
        events = []
        data, stat = b.get("/app", watch=events.append)
        assert data == b"v1" and stat.version == 0
        a.set("/app", b"v2", version=0)
        a.set("/app", b"v3")  # a second change: the one-shot watch must not fire again
        assert cluster.wait_for(lambda: len(events) >= 1, timeout_s=5.0)
        b.sync("/app")
        assert b.get("/app")[0] == b"v3"
        assert [e.type for e in events] == ["CHANGED"]
        with pytest.raises(BadVersionError):
            a.set("/app", b"x", version=0)
        with pytest.raises(NoNodeError):
            a.create("/missing/child", b"")
        with pytest.raises(NodeExistsError):
            b.create("/app", b"")
        assert b.get("/app")[0] == b"v3"  # nothing changed
        verdict = check_coordination(history)
        assert verdict.ok, verdict.problems
    finally:
        a.stop()
        b.stop()


def test_malformed_requests_get_clear_errors_and_the_server_keeps_serving(cluster) -> None:
    raw = cluster.client("n2")
    for method, args in [
        ("Coord.read", (1, "drop_table", "/x", False, 0)),
        ("Coord.read", ("one", "get", "/x", False, 0)),
        ("Coord.write", ("not a map",)),
    ]:
        with pytest.raises(Exception, match=r"unknown read|integers|command map"):
            raw.call(method, *args, timeout=3.0)
    answer = raw.call("Coord.write", {"op": "create", "session": 999, "path": "/z"}, 2.0)
    assert answer["error"] == "SessionExpiredError"
    assert cluster.status()["n2"].alive


def test_a_stale_read_on_a_cut_off_server_and_sync(cluster) -> None:
    leader = leader_of(cluster)
    follower = next(name for name in cluster.names if name != leader)
    writer = cluster.client(server=leader, client_id="writer")
    reader = cluster.client(server=follower, client_id="reader", timeout=5.0)
    try:
        writer.create("/config", b"old")
        reader.sync("/")
        assert reader.get("/config")[0] == b"old"
        cluster.isolate(follower)
        writer.set("/config", b"new")
        assert reader.get("/config")[0] == b"old"  # answered from the cut-off copy: stale
        cluster.heal()
        reader.sync("/config")
        assert reader.get("/config")[0] == b"new"
    finally:
        cluster.heal()
        writer.stop()
        reader.stop()


def test_ephemeral_znodes_vanish_after_expiry_and_only_then(cluster) -> None:
    owner = cluster.client(server="n0", client_id="owner", timeout=1.5)
    watcher = cluster.client(server="n1", client_id="watcher", timeout=5.0)
    try:
        owner.create("/member", b"", ephemeral=True)
        owner.freeze()  # no heartbeats from now on, as a paused process
        assert watcher.exists("/member") is not None
        assert cluster.wait_for(lambda: watcher.exists("/member") is None, timeout_s=15.0)
        owner.thaw()
        with pytest.raises(SessionExpiredError):
            owner.create("/late", b"")
    finally:
        owner.close()
        watcher.stop()


def test_a_session_moves_to_another_server_when_its_server_crashes(cluster) -> None:
    client = cluster.client(server="n2", client_id="mover", timeout=4.0)
    other = cluster.client(server="n0", client_id="other")
    try:
        client.create("/mine", b"", ephemeral=True)
        cluster.crash("n2")
        client.set("/mine", b"still here")  # within the session timeout, on another server
        assert client.server != "n2"
        other.sync("/")
        assert other.get("/mine")[0] == b"still here"
    finally:
        cluster.restart("n2")
        client.stop()
        other.stop()


def test_the_lock_keeps_mutual_exclusion_while_the_leader_crashes(cluster) -> None:
    resource = FencedResource(check_tokens=False)  # judged afterwards
    holders = [0]
    overlaps = []
    guard = threading.Lock()
    clients = [cluster.client(server=f"n{i}", client_id=f"L{i}", timeout=3.0) for i in range(3)]

    def contend(client) -> None:
        lock = Lock(client, "/locks/crash", client.name)
        for _ in range(3):
            token = lock.acquire(timeout=20)
            with guard:
                holders[0] += 1
                if holders[0] > 1:
                    overlaps.append(holders[0])
            resource.write(client.name, token, client.name)
            with guard:
                holders[0] -= 1
            lock.release()

    threads = [threading.Thread(target=contend, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    victim = leader_of(cluster)
    assert cluster.wait_for(lambda: len(resource.writes) >= 2, timeout_s=20.0)
    cluster.crash(victim)
    for thread in threads:
        thread.join(timeout=60)
    cluster.restart(victim)
    for client in clients:
        client.stop()
    assert not any(thread.is_alive() for thread in threads)
    assert len(resource.writes) == 9
    assert overlaps == [] and check_fenced_writes(resource.writes) == []


def test_the_same_workload_and_checker_as_on_real_zookeeper(cluster) -> None:
    sessions = [cluster.client(server=name) for name in cluster.names]
    try:
        history = recorded_workload(sessions, seed=1, operations=25)
        verdict = check_coordination(history)
        assert verdict.ok, verdict.problems
        assert verdict.operations > 70
        counted = counter_race(sessions, adds=5)
        assert counted.value == counted.expected == 15
    finally:
        for session in sessions:
            session.stop()


def test_a_restarted_server_rebuilds_the_tree_from_its_snapshot_and_log() -> None:
    with Cluster.start(3, service="coord", seed=3, snapshot_every=10) as small:
        client = small.client(server="n0")
        for number in range(30):
            client.create(f"/k{number}", str(number).encode())
        small.crash("n2")
        client.set("/k0", b"changed while n2 was down")
        small.restart("n2")
        late = small.client(server="n2")
        late.sync("/")
        assert late.get("/k0")[0] == b"changed while n2 was down"
        assert len(late.get_children("/")) == 30
        assert small.status()["n2"].fields["snapshot_index"] > 0
        client.stop()
        late.stop()


def test_leader_election_hands_over_and_configuration_appears_whole(cluster) -> None:
    first, second = (cluster.client(server=name) for name in ("n0", "n1"))
    try:
        one = LeaderElection(first, "/election", "one")
        two = LeaderElection(second, "/election", "two")
        one.acquire()
        assert two.leader() == "one"
        waiting = threading.Thread(target=two.acquire)
        waiting.start()
        first.stop()  # the leader's session ends: its candidate znode goes
        waiting.join(timeout=20)
        assert not waiting.is_alive() and two.leader() == "two"
        assert read_config(second, "/service") is None  # no "ready" yet
        write_config(second, "/service", {"primary": "n1", "port": "7000"})
        assert read_config(second, "/service") == {"primary": "n1", "port": "7000"}
    finally:
        first.stop()
        second.stop()


def test_one_session_shared_by_threads(cluster) -> None:
    shared = cluster.client(server="n1")
    errors = []

    def writer(number: int) -> None:
        try:
            shared.create(f"/shared-{number}", b"0")
            for step in range(10):
                shared.set(f"/shared-{number}", str(step).encode())
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    try:
        assert errors == []
        assert [shared.get(f"/shared-{n}")[0] for n in range(4)] == [b"9"] * 4
    finally:
        shared.stop()
