"""One panel for both drivers: the ClusterPanel's buttons crash, pause and partition a World.

The simulated twin of tests/cluster/test_cluster_panel.py: the same buttons call the same
`distlab.core.ClusterControl` methods, here on Raft in the simulator, where "Run 1 s" lets
virtual time pass (nothing here waits on real time).
"""

from __future__ import annotations

from distlab.core import ClusterControl
from distlab.sim import Simulation
from distlab.widgets.cluster_panel import ClusterPanel


def leader_of(panel: ClusterPanel) -> str:
    statuses = panel.cluster.status()
    leaders = [n for n, s in statuses.items() if s.alive and s.fields.get("role") == "leader"]
    assert len(leaders) == 1, statuses
    return leaders[0]


def test_buttons_control_a_simulated_raft_cluster() -> None:
    world = Simulation(seed=3, nodes=3)
    assert isinstance(world, ClusterControl)
    panel = ClusterPanel(world)
    assert panel.simulated and "tick 0" in panel.summary.value
    panel.advance.click()  # one virtual second: an election happens
    old = leader_of(panel)
    assert "LEADER" in panel.cards[old].info.value and f"tick {world.now}" in panel.summary.value

    panel.cards[old].crash.click()
    assert not world.alive(old) and "crashed" in panel.cards[old].info.value
    panel.advance.click()
    new = leader_of(panel)
    assert new != old

    panel.cards[new].pause.click()
    assert world.status()[new].state == "paused" and panel.cards[new].pause.description == "Resume"
    panel.cards[old].restart.click()
    panel.advance.click()  # the other two elect a leader while `new` is frozen
    third = leader_of(panel)
    assert third != new, "a frozen leader cannot lead"
    panel.cards[new].pause.click()  # it resumes, reads the newer term and follows
    panel.advance.click()
    assert leader_of(panel) == third

    panel.groups.value = f"{third} | " + " ".join(n for n in world.names if n != third)
    panel.partition.click()
    panel.advance.click()
    statuses = world.status()
    majority_leaders = [
        n for n, s in statuses.items() if n != third and s.fields.get("role") == "leader"
    ]
    assert len(majority_leaders) == 1, "the majority side elects its own leader"
    panel.heal.click()
    # The very moment of the heal: the cut-off leader still says "leader", of an older term.
    assert "distlab-stale-leader-badge" in panel.cards[third].info.value
    assert f"{third} (term" in panel.summary.value and "stale)" in panel.summary.value
    panel.advance.click()
    leader_of(panel)  # one leader again after the heal
    assert "stale" not in panel.summary.value
