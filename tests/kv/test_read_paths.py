"""The strong store's two read paths in the simulator: the same answers, different costs.

Through the log, every get is an entry that a majority must store (and fsync, on real
disks); by ReadIndex, a get costs one round of heartbeats and writes nothing, whether the
leader answers it or a follower that asked the leader for the read index.
"""

from __future__ import annotations

import pytest

from distlab.check import check_linearizable
from distlab.check.history import History
from distlab.kv.read_paths import measure_read_paths, read_after_a_pause
from distlab.kv.simulated import SimClerk, strong_world, virtual_clock
from distlab.sim.simulation import SimRead


@pytest.mark.parametrize(
    ("reads", "entries_per_get"), [("read_index", 0), ("log", 1), ("follower", 0)]
)
def test_gets_see_the_writes_and_only_the_log_path_writes_entries(
    reads: str, entries_per_get: int
) -> None:
    world = strong_world(seed=5)
    history = History(clock=virtual_clock(world))
    clerk = SimClerk(world, client_id="c", history=history, reads=reads)
    clerk.put("x", "1")
    leader = world.check_one_leader()
    before = world.nodes[leader].log.last_index  # type: ignore[union-attr]
    values = []
    for i in range(10):
        clerk.append("x", str(i % 10))
        values.append(clerk.get("x"))
    assert values == ["1" + "0123456789"[: i + 1] for i in range(10)]
    after = world.nodes[leader].log.last_index  # type: ignore[union-attr]
    assert after - before == 10 + 10 * entries_per_get  # the appends, plus any gets
    assert check_linearizable(history, timeout_s=10).verdict == "ok"
    if reads == "follower":  # the gets were spread: not all answered by the leader
        answered_by = {r.node for r in world.reads.values() if isinstance(r, SimRead)}
        assert len(answered_by) > 1


def test_an_unknown_read_path_is_refused_with_the_choices() -> None:
    world = strong_world(seed=5)
    with pytest.raises(ValueError, match="read_index"):
        SimClerk(world, client_id="c", history=History(), reads="lease")


@pytest.mark.cluster
def test_real_clusters_time_each_path_and_only_the_log_path_adds_entries() -> None:
    timings = {t.path: t for t in measure_read_paths(gets=20, seed=3)}
    assert set(timings) == {"log", "read_index", "lease", "follower"}
    # (An election during the run would add one blank entry: 0.05 per get at most.)
    assert timings["log"].log_entries_per_get >= 1.0
    assert timings["read_index"].log_entries_per_get <= 0.05
    assert timings["lease"].log_entries_per_get <= 0.05
    assert timings["follower"].log_entries_per_get <= 0.05
    assert "trusts: clocks" in str(timings["lease"])


def test_an_unknown_path_for_the_pause_experiment_names_the_choices() -> None:
    with pytest.raises(ValueError, match="read_index"):
        read_after_a_pause("quorum")
