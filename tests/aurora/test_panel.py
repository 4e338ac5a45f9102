"""The Aurora panel, driven from Python: its buttons call the World's (or the Cluster's)
methods; the zone columns, the sparkline and the availability table follow."""

from __future__ import annotations

import pytest

from distlab.aurora import AuroraWorkload, aurora_world
from distlab.aurora.scenarios import wait_open
from distlab.cluster import Cluster
from distlab.widgets import AuroraPanel
from distlab.widgets.aurora_panel import aurora_html, sparkline


def test_zone_buttons_and_probes_fill_the_availability_table() -> None:
    world = aurora_world(0)
    panel = AuroraPanel(world, workload=AuroraWorkload(world))
    panel.run(1.0)
    assert "data-zone='a'" in panel.picture.value and "open" in panel.picture.value
    assert panel.probe() == (True, True, "")
    panel.crash["a"].click()
    assert world.status()["n1"].state == "crashed" and world.status()["n2"].state == "crashed"
    panel.run(0.5)
    assert panel.probe()[:2] == (True, True)
    panel.crash["n3"].click()
    panel.run(0.5)
    wrote, read, why = panel.probe()
    assert (wrote, read) == (False, True)
    assert why == "write quorum unavailable: 3 of 6 storage nodes answer, a write needs 4"
    assert panel.table.value.count("<tr>") == 4
    panel.restart["a"].click()
    panel.restart["n3"].click()
    panel.run(0.5)
    assert panel.probe()[:2] == (True, True)
    assert "svg" in panel.spark.value


def test_the_slow_button_slows_a_node_and_back() -> None:
    world = aurora_world(1)
    panel = AuroraPanel(world)
    panel.slow_button["n4"].click()
    assert world.nodes["n4"].slow_ticks > 0 and "data-state='slow'" in panel.picture.value
    panel.slow_button["n4"].click()
    assert world.nodes["n4"].slow_ticks == 0


def test_the_pictures_are_pure_functions() -> None:
    world = aurora_world(2)
    world.run_for(50)
    assert aurora_html(world.status()).count("distlab-aurora-node") == 6
    assert sparkline([]) == "<i>no commits yet</i>"
    assert "max 9" in sparkline([1, 9, 3])


@pytest.mark.cluster
def test_on_real_processes_the_zone_button_kills_two_nodes() -> None:
    with Cluster.start(7, service="aurora", seed=12) as cluster:
        assert wait_open(cluster)
        panel = AuroraPanel(cluster)
        assert len(panel.commit_many(5)) == 5
        panel.crash["b"].click()
        assert cluster.status()["n3"].state == "crashed" == cluster.status()["n4"].state
        assert panel.probe()[:2] == (True, True)
