"""Primary-backup in real processes: SIGKILL the primary mid-workload, cut the logging
channel, restart from disk; the clients' history must stay linearizable and no
acknowledged write may be lost. Bad input gets clear errors and the nodes keep serving."""

from __future__ import annotations

import threading

import pytest

from distlab.check import History, check_linearizable, lost_acknowledged_writes
from distlab.cluster import Cluster, ClusterError
from distlab.rpc import RemoteError

pytestmark = pytest.mark.cluster


def roles(cluster: Cluster) -> dict[str, str | None]:
    return {name: status.fields.get("role") for name, status in cluster.status().items()}


def live_count(cluster: Cluster) -> int:
    return sum(role == "live" for role in roles(cluster).values())


def workload(cluster: Cluster, history: History, progress: list[int], stop: threading.Event):
    def run(client_id: str) -> None:
        client = cluster.client(client_id=client_id, history=history, deadline_s=15.0)
        step = 0
        while not stop.is_set():
            key = "ab"[step % 2]
            try:
                if step % 3 == 2:
                    client.get(key)
                else:
                    client.append(key, f"{client_id}.{step},")
            except TimeoutError:
                pass
            step += 1
            progress.append(step)

    threads = [threading.Thread(target=run, args=(f"c{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    return threads


def test_crashes_and_rejoins_keep_histories_linearizable_and_lose_nothing() -> None:
    history = History()
    progress: list[int] = []
    stop = threading.Event()
    with Cluster.start(3, service="primary_backup", seed=11) as cluster:
        threads = workload(cluster, history, progress, stop)
        try:
            assert cluster.wait_for(lambda: len(progress) >= 20, timeout_s=30)
            cluster.crash("n0")  # SIGKILL, replies possibly held by the output rule
            assert cluster.wait_for(lambda: roles(cluster)["n1"] == "live", timeout_s=30)
            mark = len(progress)
            assert cluster.wait_for(lambda: len(progress) >= mark + 20, timeout_s=30)
            cluster.restart("n0")  # it has run before: it must be cloned, not lead
            assert cluster.wait_for(lambda: roles(cluster)["n0"] == "backup", timeout_s=30)
            assert cluster.wait_for(
                lambda: cluster.status()["n2"].fields["holder"] == "", timeout_s=30
            )  # the new pairing is confirmed: the arbiter's flag is clear again
            cluster.crash("n1")
            assert cluster.wait_for(lambda: roles(cluster)["n0"] == "live", timeout_s=30)
            mark = len(progress)
            assert cluster.wait_for(lambda: len(progress) >= mark + 20, timeout_s=30)
            assert live_count(cluster) == 1
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=60)
        final = cluster.client(client_id="reader", history=history)
        state = {key: final.get(key) for key in "ab"}
    check = check_linearizable(history, timeout_s=30)
    assert check.linearizable is True, check
    assert lost_acknowledged_writes(history, state) == []
    assert history.statistics().ok > 60


def test_a_cut_logging_channel_leaves_one_live_replica_and_the_loser_rejoins() -> None:
    with Cluster.start(3, service="primary_backup", seed=12) as cluster:
        client = cluster.client(client_id="c", history=History())
        client.put("x", "1")
        cluster.partition(["n0"], ["n1"])  # both still reach the arbiter n2
        assert cluster.wait_for(
            lambda: sorted(roles(cluster).values()) == ["arbiter", "live", "stopped"],
            timeout_s=30,
        )
        client.append("x", "2")  # whoever won answers
        cluster.heal()
        assert cluster.wait_for(
            lambda: sorted(roles(cluster).values()) == ["arbiter", "backup", "primary"],
            timeout_s=30,
        )
        assert client.get("x") == "12"


def test_without_test_and_set_the_same_cut_leaves_two_live_replicas() -> None:
    with Cluster.start(3, service="primary_backup", test_and_set=False, seed=13) as cluster:
        cluster.partition(["n0"], ["n1"])
        assert cluster.wait_for(lambda: live_count(cluster) == 2, timeout_s=30)


def test_bad_requests_get_clear_errors_and_the_replica_keeps_serving() -> None:
    with Cluster.start(3, service="primary_backup", seed=14) as cluster:
        rpc = cluster.client("n0", client_name="tester")
        for args, complaint in [
            (("c", 1, "drop", "x", ""), "malformed request"),
            (("c", -1, "put", "x", "v"), "malformed request"),
            (("c", 1, "put", "_session/c", "v"), "malformed request"),
            (("c", 1, "put", "x", "v", "soon"), "wait_s must be"),
        ]:
            with pytest.raises(RemoteError, match=complaint):
                rpc.call("Replica.submit", *args, timeout=5.0)
        with pytest.raises(RemoteError, match="is the arbiter"):
            cluster.client("n2", client_name="tester").call(
                "Replica.submit", "c", 1, "get", "x", timeout=5.0
            )
        with pytest.raises(RemoteError, match="unknown message type"):
            rpc.call("Core.step", "n1", {"__msg__": "Exec", "fields": []}, timeout=5.0)
        client = cluster.client(client_id="c")
        client.put("x", "ok")
        assert client.get("x") == "ok"
    with pytest.raises(ClusterError, match="unknown primary_backup options"):
        Cluster.start(3, service="primary_backup", output_rules=False)
    with pytest.raises(ClusterError, match="exactly 3 nodes"):
        Cluster.start(2, service="primary_backup")


def test_a_corrupt_arbiter_file_stops_the_arbiter_with_a_clear_error() -> None:
    with Cluster.start(3, service="primary_backup", seed=15) as cluster:
        cluster.client(client_id="c").put("x", "1")
        cluster.crash("n2")
        flag = cluster.data_dir("n2") / "arbiter.flag"
        flag.write_bytes(b"DSNP garbage")
        with pytest.raises(ClusterError, match=r"arbiter\.flag: corrupt"):
            cluster.restart("n2")
