"""GFS in real processes: SIGKILLed chunkservers, stale replicas, a corrupted disk block, a
restarted master, and bad input -- with the promises the paper makes checked on every
replica's bytes."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import pytest

from distlab.cluster import Cluster
from distlab.gfs.chunk_store import corrupt_block
from distlab.gfs.client import GFSClient, GFSError
from distlab.gfs.experiments import concurrent_appends
from distlab.rpc import RemoteError

pytestmark = pytest.mark.cluster

SMALL = {"chunk_size": 8192, "block_size": 1024}  # records of 100-900 bytes pad often


def table(cluster: Cluster) -> list[dict[str, Any]]:
    return cluster.status()["n0"].fields.get("table", [])


def master_stat(cluster: Cluster, name: str) -> int:
    return int(cluster.status()["n0"].fields.get(name, 0))


def test_concurrent_appends_through_a_sigkill_lose_no_acknowledged_record() -> None:
    with Cluster.start(5, service="gfs", seed=3, **SMALL) as cluster:
        run = concurrent_appends(cluster, clients=3, records_per_client=30, crash="n1",
                                 crash_after=15, restart_after=45, seed=3)  # fmt: skip
        assert run.acknowledged + run.failed == 90 and run.acknowledged >= 80
        assert run.missing == ()  # every acknowledged record is read back ...
        assert run.not_in_every_replica == ()  # ... from every up-to-date replica, in place
        assert run.torn == ()  # and everything read back is whole
        ids = [record.record_id for record in run.read_back]
        assert len(ids) == len(set(ids))  # the reader dropped the duplicates
        assert run.records_in_replica == len(ids) + run.duplicates
        assert run.report.padding > 0  # records that did not fit padded their chunk


def test_a_replica_that_missed_mutations_while_down_is_never_served() -> None:
    with Cluster.start(4, service="gfs", seed=4, **SMALL) as cluster:
        gfs = cluster.client()
        gfs.create("/f")
        for i in range(3):
            gfs.append_record("/f", f"before-{i}", b"b" * 50)
        cluster.crash("n1")  # all three chunkservers hold chunk 0; n1 misses what follows
        for i in range(3):
            gfs.append_record("/f", f"after-{i}", b"a" * 50)
        (row,) = table(cluster)
        assert "n1" not in row["replicas"] and row["version"] >= 2
        cluster.restart("n1")
        stale_seen = []

        def served_only_up_to_date() -> bool:
            statuses = cluster.status()
            for listed in statuses["n0"].fields.get("table", []):
                for node in listed["replicas"]:
                    held = statuses[node].fields.get("held", {}).get(str(listed["handle"]))
                    assert held is None or held[0] == listed["version"], (node, held, listed)
            stale_seen.append(master_stat(cluster, "stale_replicas_found"))
            return stale_seen[-1] >= 1

        assert cluster.wait_for(served_only_up_to_date, 20)
        n1 = cluster.client("n1")
        with pytest.raises(RemoteError, match=r"stale|has no chunk"):
            n1.call("GFS.read", row["handle"], row["version"], 0, 100, timeout=5)
        # Re-replication makes n1 a full replica again (it is the only spare chunkserver).
        assert cluster.wait_for(lambda: "n1" in table(cluster)[0]["replicas"], 30)
        ids = {record.record_id for record in gfs.read_records("/f")}
        assert ids == {f"{when}-{i}" for when in ("before", "after") for i in range(3)}


def test_a_corrupted_block_is_detected_and_the_chunk_re_replicated() -> None:
    with Cluster.start(5, service="gfs", seed=5, **SMALL) as cluster:
        gfs = cluster.client()
        gfs.create("/f")
        for i in range(6):
            gfs.append_record("/f", f"r{i}", bytes([i]) * 300)
        (row,) = table(cluster)
        victim = row["replicas"][0]
        corrupt_block(cluster.data_dir(victim) / "chunks", row["handle"], 700)
        with pytest.raises(RemoteError, match="fails its checksum"):
            cluster.client(victim).call("GFS.read", row["handle"], row["version"], 0, 2000)
        assert cluster.wait_for(lambda: master_stat(cluster, "corrupt_reports") >= 1, 10)
        assert cluster.wait_for(lambda: len(table(cluster)[0]["replicas"]) == 3, 30)
        assert master_stat(cluster, "copies_done") >= 1
        replicas = gfs.replica_bytes("/f")[0]
        assert len(replicas) == 3 and len(set(replicas.values())) == 1  # identical again
        assert [r.record_id for r in gfs.read_records("/f")] == [f"r{i}" for i in range(6)]


def test_a_restarted_master_recovers_namespace_and_versions_from_its_log() -> None:
    with Cluster.start(4, service="gfs", seed=6, checkpoint_every=5, **SMALL) as cluster:
        gfs = cluster.client()
        for path in ("/a", "/b", "/c"):
            gfs.create(path)
        for i in range(30):  # fills several chunks of /a: a checkpoint and a log after it
            gfs.append_record("/a", f"r{i}", b"x" * 700)
        before = [(r["path"], r["index"], r["handle"], r["version"]) for r in table(cluster)]
        assert (cluster.data_dir("n0") / "checkpoint").exists()  # the log was checkpointed
        cluster.crash("n0")
        cluster.restart("n0")
        after = [(r["path"], r["index"], r["handle"], r["version"]) for r in table(cluster)]
        assert after == before  # namespace and versions: from the operation log
        # Locations were not on the master's disk; the chunkservers report them.
        assert cluster.wait_for(lambda: all(r["replicas"] for r in table(cluster)), 10)
        assert len(gfs.read_records("/a")) == 30
        gfs.append_record("/b", "after-restart", b"y")  # after the restart's lease wait
        assert [r.record_id for r in gfs.read_records("/b")] == ["after-restart"]


def test_bad_input_gets_a_clear_error_and_the_servers_keep_serving() -> None:
    with Cluster.start(3, service="gfs", seed=7, replicas=2, **SMALL) as cluster:
        gfs: GFSClient = cluster.client()
        gfs.create("/f")
        gfs.append_record("/f", "r", b"data")
        with pytest.raises(GFSError, match="no such file") as unknown:
            gfs.read("/nope", 0, 10)
        assert unknown.value.definite
        with pytest.raises(GFSError, match="past the end"):
            gfs.read("/f", 10_000, 10)
        with pytest.raises(GFSError, match="quarter chunk"):
            gfs.record_append("/f", b"x" * (8192 // 4 + 1))
        with pytest.raises(GFSError, match="already exists"):
            gfs.create("/f")
        with pytest.raises(GFSError, match="starting with '/'"):
            gfs.create("relative")
        for node in ("n0", "n1"):  # garbage on the wire: the connection is dropped, no more
            with socket.create_connection(cluster.address(node), timeout=5) as raw:
                raw.sendall(b"\xff" * 64 + b"GET / HTTP/1.0\r\n\r\n")
                raw.settimeout(5)
                with contextlib.suppress(TimeoutError, ConnectionError):
                    raw.recv(100)
        with pytest.raises(RemoteError, match="must be int"):
            cluster.client("n1").call("GFS.read", "one", 1, 0, 10, timeout=5)
        with pytest.raises(RemoteError, match="is a chunkserver; ask the master"):
            cluster.client("n1").call("GFS.create", "/g", timeout=5)
        with pytest.raises(RemoteError, match="is the master"):
            cluster.client("n0").call("GFS.read", 1, 1, 0, 10, timeout=5)
        gfs.append_record("/f", "still-serving", b"ok")
        assert [r.record_id for r in gfs.read_records("/f")] == ["r", "still-serving"]
        assert all(status.alive for status in cluster.status().values())
