"""Only the cluster's controller can cut a node's network or rewrite its peers (issue 16 §3).

Without a secret any local user can reach a node on loopback: that stays the friendly
default for the data calls, but the control calls (``Fault.set``, ``Fault.reset``,
``Node.set_peers``) need the cluster's per-run control secret, which only the controller
knows -- even a client that calls itself "controller" is refused.
"""

from __future__ import annotations

import pytest

from distlab.cluster import Cluster, Echo
from distlab.rpc import CONTROLLER, Client, Server, Unauthorized
from distlab.rpc.faults import set_remote

pytestmark = pytest.mark.cluster


def test_a_local_client_cannot_partition_a_node_but_the_controller_can() -> None:
    with Cluster.start(2, program=Echo, seed=3) as cluster:
        with Client(cluster.address("n0"), name=CONTROLLER) as stranger:
            for method, args in [
                ("Fault.set", [{"blocked": [["n0", "n1"]]}]),
                ("Fault.reset", []),
                ("Node.set_peers", [{"n1": ["127.0.0.1", 1]}]),
            ]:
                with pytest.raises(Unauthorized, match="control secret") as refused:
                    stranger.call(method, *args, timeout=5.0)
                assert refused.value.definite  # it certainly did not run
            assert stranger.call("Fault.get", timeout=5.0)["blocked"] == []  # reads are open
            assert stranger.call("Echo.echo", "data calls are open", timeout=5.0)
        cluster.partition(["n0"], ["n1"])  # the controller proves the secret
        with Client(cluster.address("n0"), name="observer") as observer:
            assert ["n0", "n1"] in observer.call("Fault.get", timeout=5.0)["blocked"]
        set_remote(cluster.address("n0"), {"blocked": []}, control_secret=cluster.control_secret)


def test_a_server_with_a_control_secret_serves_its_controller() -> None:
    with Server(name="s", control_secret="per-run").start() as server:
        with Client(server.address, control_secret="wrong") as wrong, pytest.raises(Unauthorized):
            wrong.call("Fault.reset", timeout=5.0)
        with Client(server.address, control_secret="per-run") as controller:
            controller.call("Fault.reset", timeout=5.0)
