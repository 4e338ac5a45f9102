"""Aurora in real processes: SIGKILL a storage node, a whole zone, a zone plus one more
node, and the writer under busy clients, judged by the checker and the redo logs on disk;
a replaced node (its disk thrown away) is filled again; a stalled node (SIGSTOP) holds up
no commit; bad requests and a corrupt redo log get clear errors."""

from __future__ import annotations

import shutil

import msgpack
import pytest

from distlab.aurora.node import AuroraClient, AuroraRefused, load_redo_log
from distlab.aurora.scenarios import crash_zones, durable_lsns, wait_open
from distlab.cluster import Cluster, ClusterError
from distlab.rpc import RemoteError
from distlab.rpc.errors import UnknownMethod
from distlab.storage import CorruptLogError, DurableLog

pytestmark = pytest.mark.cluster


def test_zone_crashes_and_a_writer_crash_lose_no_acknowledged_commit() -> None:
    with Cluster.start(7, service="aurora", seed=3) as cluster:
        run = crash_zones(cluster, seed=3)
        assert run.linearizable, run.verdict
        assert run.acknowledged_lost == 0
        assert run.half_applied == 0
        assert run.acknowledged > 20, "the run must not be vacuous"
        assert run.refused_with_zone_plus_one_down >= 3
        assert run.refusal.startswith("write quorum unavailable: 3 of 6 storage nodes answer")


def test_reads_survive_a_zone_plus_one_node_and_a_writer_crash() -> None:
    with Cluster.start(7, service="aurora", seed=4) as cluster:
        assert wait_open(cluster)
        client = AuroraClient(cluster, client_id="t", timeout_s=2.0)
        client.commit([("p1", "a"), ("p2", "a")])
        for node in ("n1", "n2", "n5"):
            cluster.crash(node)
        cluster.crash("n0")
        cluster.restart("n0")  # recovers from a read quorum: n3, n4, n6
        assert cluster.wait_for(lambda: _reads(client) == "a", timeout_s=20)
        with pytest.raises(AuroraRefused, match="write quorum unavailable"):
            client.commit([("p1", "b")])


def test_a_replaced_storage_node_catches_up_from_its_peers() -> None:
    with Cluster.start(7, service="aurora", seed=5) as cluster:
        assert wait_open(cluster)
        client = AuroraClient(cluster, client_id="t")
        for i in range(20):
            client.commit([("p1", str(i))])
        cluster.crash("n4")
        shutil.rmtree(cluster.data_dir("n4"))  # a new, empty disk
        cluster.data_dir("n4").mkdir()
        cluster.restart("n4")
        for i in range(5):
            client.commit([("p2", str(i))])
        vdl = durable_lsns(cluster)["n0"]
        assert cluster.wait_for(lambda: (durable_lsns(cluster)["n4"] or 0) >= vdl, timeout_s=20)
        assert cluster.status()["n4"].fields["gossip_filled"] >= 20


def test_a_stalled_storage_node_holds_up_neither_recovery_nor_commits() -> None:
    # n3 stopped (SIGSTOP) before the writer boots: each connection the writer opens to it
    # hangs in the handshake. Four of six suffice, so the writer must not wait for it: its
    # messages to n3 wait in n3's outbox while the other five get theirs at once.
    with Cluster.start(7, service="aurora", seed=8) as cluster:
        assert wait_open(cluster)
        cluster.pause("n3")
        cluster.crash("n0")
        cluster.restart("n0")
        assert wait_open(cluster)
        client = AuroraClient(cluster, client_id="t", timeout_s=5.0)
        for i in range(10):
            client.commit([("p1", str(i))])
        # Its connection to n3 fails at last: what waited for n3 is lost, as on a network.
        assert cluster.wait_for(
            lambda: cluster.status()["n0"].fields["sends_lost"] > 0, timeout_s=20
        )
        cluster.resume("n3")
        vdl = durable_lsns(cluster)["n0"]
        assert cluster.wait_for(lambda: (durable_lsns(cluster)["n3"] or 0) >= vdl, timeout_s=20)


def test_bad_requests_and_a_corrupt_disk_get_clear_errors() -> None:
    with Cluster.start(7, service="aurora", seed=6) as cluster:
        assert wait_open(cluster)
        writer = cluster.client("n0", client_name="mallory")
        bad = [
            (("Aurora.commit", []), "a transaction is 1 to 16"),
            (("Aurora.commit", [["p1", 5]]), "a value must be a string"),
            (("Aurora.commit", [["p1", "v"]], -1), "timeout_s"),
            (("Aurora.read", ""), "a page name must be"),
        ]
        for call, message in bad:
            with pytest.raises(RemoteError, match=message):
                writer.call(*call, timeout=5.0)
        with pytest.raises(UnknownMethod, match=r"Aurora\.nothing"):
            writer.call("Aurora.nothing", timeout=5.0)
        storage = cluster.client("n1", client_name="mallory")
        with pytest.raises(RemoteError, match="send requests to the writer n0"):
            storage.call("Aurora.read", "p1", 1.0, timeout=5.0)
        assert AuroraClient(cluster, client_id="ok").commit([("p1", "fine")]) >= 1
        cluster.stop("n2")  # a damaged disk: the node does not start, and says why
        path = cluster.data_dir("n2") / "redo.log"
        data = bytearray(path.read_bytes())
        data[30] ^= 0xFF
        path.write_bytes(bytes(data) + bytes(data[24:]))  # damage followed by good records
        with pytest.raises(ClusterError, match=r"(?i)corrupt|checksum|redo"):
            cluster.restart("n2")
        assert AuroraClient(cluster, client_id="ok").commit([("p1", "still")]) >= 1


def test_a_corrupt_redo_log_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "redo.log"
    log = DurableLog(path)
    log.append(msgpack.packb(["r", 1, 1, "t", "p1", "v", True]))
    log.append(msgpack.packb(["x", "what"]))
    log.sync()
    log.close()
    with pytest.raises(ValueError, match="entry 1 is not a redo log record"):
        load_redo_log(path)
    data = bytearray(path.read_bytes())
    log = DurableLog(tmp_path / "two.log")
    for i in range(3):
        log.append(msgpack.packb(["r", i + 1, 1, "t", "p1", "v", True]))
    log.sync()
    log.close()
    data = bytearray((tmp_path / "two.log").read_bytes())
    data[40] ^= 0xFF  # damage the first record; valid ones follow
    (tmp_path / "two.log").write_bytes(bytes(data))
    with pytest.raises(CorruptLogError):
        load_redo_log(tmp_path / "two.log")


def _reads(client: AuroraClient) -> str | None:
    try:
        return client.read("p1")
    except Exception:
        return None
