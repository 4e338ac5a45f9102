"""Status as a learner reads it: each node's role with its term, and stale leaders marked.

Right after a partition heals, the cut-off old leader still says "leader" until it hears of
the newer term; `World.status()` (and `Cluster.status()`, see tests/replicated) must then
read "leader (term 1, stale)" beside "leader (term 2)", not two bare "leader"s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab.core import StatusMap, role_label, status_table
from distlab.sim import Simulation


@dataclass
class View:
    name: str
    state: str
    fields: dict[str, Any] = field(default_factory=dict)


def test_right_after_heal_the_old_leader_reads_as_stale() -> None:
    world = Simulation(seed=7, nodes=3)
    old = world.check_one_leader()
    majority = [n for n in world.node_ids if n != old]
    world.partition([old], majority)
    new = world.check_one_leader()
    world.heal()  # no time has passed: the old leader has not heard of the new term yet
    statuses = world.status()
    assert isinstance(statuses, StatusMap) and isinstance(statuses, dict)
    old_term = statuses[old].fields["current_term"]
    new_term = statuses[new].fields["current_term"]
    assert old_term < new_term
    table = str(statuses)
    assert f"{old:<4} up        leader (term {old_term}, stale)" in table, table
    assert f"{new:<4} up        leader (term {new_term})" in table, table
    assert statuses.stale_leaders == [old]
    world.run_for(world.ticks_per_second)
    assert world.status().stale_leaders == []
    assert "stale" not in str(world.status())


def test_role_labels_and_tables_for_other_programs_and_down_nodes() -> None:
    assert role_label({"role": "leader", "term": 3}, 3) == "leader (term 3)"
    assert role_label({"role": "leader", "term": 2}, 3) == "leader (term 2, stale)"
    assert role_label({"role": "follower", "current_term": 2}, 3) == "follower (term 2)"
    assert role_label({"role": "replica"}) == "replica"
    assert role_label({"keys": 3}) == ""
    statuses = StatusMap(
        n0=View("n0", "up", {"keys": 3, "durable": True}),
        n1=View("n1", "crashed", {"role": "leader", "term": 9}),  # a dead node's term is no news
        n2=View("n2", "up", {"role": "leader", "term": 4, "log_length": 7, "commit_index": 6}),
    )
    assert status_table(statuses).splitlines() == [
        "n0   up        keys 3  durable True",
        "n1   crashed",
        "n2   up        leader (term 4)          log 7  commit 6",
    ]
    assert statuses.stale_leaders == []
    assert repr(statuses).startswith("{'n0': ")  # repr stays a dict's
