"""One scenario, one checker, two drivers: the weak and the strong KV store, simulated and real.

`distlab.kv.scenarios.read_from_a_cut_off_node` is written once against
`distlab.core.ClusterControl`. Here it runs on a simulated `World` (virtual time, seeded)
and on real node processes (`Cluster`, kill -9 and all), for the weak replica core and for
KV on Raft, and the same linearizability checker judges every history: the weak store
serves a stale read from the cut-off node and is caught; the strong store never is, whether
its gets go through the log, by ReadIndex at the leader, or by ReadIndex at any node
(follower reads: the cut-off node cannot get a read index, so it never answers).
"""

from __future__ import annotations

import pytest

from distlab.check import check_linearizable
from distlab.check.history import History
from distlab.cluster import Cluster
from distlab.core import ClusterControl
from distlab.kv.scenarios import read_from_a_cut_off_node
from distlab.kv.simulated import SimClerk, strong_world, virtual_clock, weak_world

EXPECTED = {
    # consistency: (what the near client reads while its node is cut off, linearizable?)
    "weak": ("before", False),
    "strong": ("after", True),
}


def judge(consistency: str, outcome) -> None:
    read_inside, linearizable = EXPECTED[consistency]
    assert outcome.seen == {"read_inside": read_inside, "converged": True}
    result = check_linearizable(outcome.history, timeout_s=20)
    assert result.verdict == ("ok" if linearizable else "violation"), result
    if not linearizable:
        assert result.witness and result.witness[0].key == "x"


MODES = [
    ("weak", "read_index"),
    ("strong", "read_index"),
    ("strong", "log"),
    ("strong", "follower"),
]


@pytest.mark.parametrize(("consistency", "reads"), MODES)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_in_the_simulator(consistency: str, reads: str, seed: int) -> None:
    world = weak_world(seed) if consistency == "weak" else strong_world(seed)
    assert isinstance(world, ClusterControl)
    history = History(clock=virtual_clock(world))

    def make_client(client_id: str, preferred: str, history: History) -> SimClerk:
        return SimClerk(
            world, client_id=client_id, preferred=preferred, history=history, reads=reads
        )

    judge(consistency, read_from_a_cut_off_node(world, make_client, history))


@pytest.mark.cluster
@pytest.mark.parametrize(("consistency", "reads"), MODES)
def test_in_real_processes(consistency: str, reads: str) -> None:
    with Cluster.start(3, service="kv", consistency=consistency, seed=31) as cluster:
        assert isinstance(cluster, ClusterControl)
        history = History()

        def make_client(client_id: str, preferred: str, history: History):
            return cluster.client(
                client_id=client_id, preferred=preferred, history=history, reads=reads
            )

        judge(consistency, read_from_a_cut_off_node(cluster, make_client, history))
