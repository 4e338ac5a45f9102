"""Chains in real processes: SIGKILL at the head, the middle and the tail under busy
clients, judged by the checker; the manager's configuration survives its own crash; a
node cut off from the manager stops answering reads; bad requests get clear errors."""

from __future__ import annotations

import pytest

from distlab.chain import ChainClient, chain_converged, crash_every_position
from distlab.cluster import Cluster, ClusterError
from distlab.rpc import RemoteError

pytestmark = pytest.mark.cluster


@pytest.mark.parametrize("protocol", ["cr", "craq"])
def test_killing_head_middle_and_tail_loses_no_acknowledged_write(protocol) -> None:
    with Cluster.start(4, service="chain", protocol=protocol, seed=7) as cluster:
        run = crash_every_position(cluster, seed=7, between_s=0.4)
        assert [c.split()[0] for c in run.crashed] == ["head", "middle", "tail"]
        assert run.converged, "every node back in the chain, synced, in the manager's epoch"
        assert run.linearizable, run.verdict
        assert run.acknowledged_writes_lost == 0
        assert run.acknowledged_writes > 10, "the run must not be vacuous"
        assert run.epoch >= 7, "founding, then a removal and an addition per crash"


def test_the_manager_restarts_from_its_disk_and_a_cut_off_tail_stops_serving() -> None:
    with Cluster.start(4, service="chain", protocol="cr", seed=8) as cluster:
        assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
        client = ChainClient(cluster, protocol="cr", client_id="t")
        client.put("x", "1")
        cluster.crash("n0")
        cluster.restart("n0")  # the configuration (epoch 1) comes back from config.snap
        assert cluster.status()["n0"].fields["epoch"] == 1
        client.put("x", "2")
        assert client.get("x") == "2"
        tail = cluster.client("n3", client_name="t-tail")
        cluster.isolate("n3")  # the tail loses the manager (and everyone else)
        assert cluster.wait_for(
            lambda: "lease" in tail.call("Chain.read", "x", 1.0, timeout=5.0).get("refused", ""),
            timeout_s=10,
        )
        assert cluster.wait_for(lambda: client.refresh() == ["n1", "n2"], timeout_s=10)
        client.put("x", "3")  # the chain carries on without it
        assert client.get("x") == "3"
        cluster.heal()
        assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
        assert client.refresh() == ["n1", "n2", "n3"]  # back, at the tail
        assert client.get("x") == "3"  # the state transfer brought it up to date


def test_bad_requests_get_clear_errors_and_the_node_keeps_serving() -> None:
    with Cluster.start(2, service="chain", seed=9) as cluster:
        assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
        node = cluster.client("n1", client_name="mallory")
        bad = [
            (("Chain.write", 5, "v"), "key must be a string"),
            (("Chain.write", "k", "v" * 70_000), "longer than"),
            (("Chain.read", "k", -1), "timeout_s"),
            (("Core.step", "n0", {"__msg__": "Update", "fields": ["x"]}), "Update"),
        ]
        for args, complaint in bad:
            with pytest.raises(RemoteError, match=complaint):
                node.call(*args, timeout=5.0)
        with pytest.raises(RemoteError, match="configuration manager"):
            cluster.client("n0", client_name="m").call("Chain.read", "k", timeout=5.0)
        client = ChainClient(cluster, client_id="ok")
        client.put("k", "v")
        assert client.get("k") == "v"


def test_bad_options_get_clear_errors() -> None:
    with pytest.raises(ClusterError, match="protocol must be one of"):
        Cluster.start(2, service="chain", protocol="paxos")


def test_a_corrupt_configuration_file_stops_the_manager_with_a_clear_error() -> None:
    from distlab.storage import write_snapshot

    with Cluster.start(2, service="chain", seed=10) as cluster:
        assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
        path = cluster.data_dir("n0") / "config.snap"
        cluster.crash("n0")
        path.write_bytes(path.read_bytes()[:-3] + b"???")  # a flipped tail: bad checksum
        with pytest.raises(ClusterError, match=r"(?i)checksum|corrupt"):
            cluster.restart("n0")
        write_snapshot(path, b'{"epoch": "not a configuration"}')  # intact, but not ours
        with pytest.raises(ClusterError, match="does not hold a chain configuration"):
            cluster.restart("n0")
