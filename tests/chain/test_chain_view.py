"""The chain panel, driven from Python: its buttons call the World's methods, the picture
and the reconfiguration log follow the manager."""

from __future__ import annotations

import pytest

from distlab.chain import ChainWorkload, chain_converged, chain_world
from distlab.cluster import Cluster
from distlab.widgets import ChainView
from distlab.widgets.chain_view import chain_html


def test_the_panel_draws_the_chain_and_logs_the_managers_reconfigurations() -> None:
    world = chain_world(1, 3, protocol="craq")
    view = ChainView(world, workload=ChainWorkload(world, write_fraction=0.2))
    view.run(1.0)
    assert view.picture.value.index("data-node='n1'") < view.picture.value.index("data-node='n3'")
    assert "data-role='head'" in view.picture.value and "data-role='tail'" in view.picture.value
    assert view.reconfigurations == ["epoch 1: n1 → n2 → n3"]
    view.crash["n2"].click()
    assert "data-role='crashed'" in view.picture.value
    view.run(1.0)
    assert view.reconfigurations[-1] == "epoch 2: n1 → n3"
    view.restart["n2"].click()
    view.run(1.0)
    assert view.reconfigurations[-1] == "epoch 3: n1 → n3 → n2"  # back at the tail
    assert "n1 → n3 → n2" in view.log.value


def test_cutting_off_a_node_and_healing_go_through_the_world() -> None:
    world = chain_world(2, 3, protocol="cr")
    view = ChainView(world)
    view.run(0.5)
    view.isolate["n3"].click()
    view.run(1.0)
    assert world.status()["n0"].fields["chain"] == ("n1", "n2")
    view.heal.click()
    view.run(1.0)
    assert world.status()["n0"].fields["chain"] == ("n1", "n2", "n3")


def test_chain_html_is_a_pure_function_of_the_statuses() -> None:
    world = chain_world(3, 2)
    world.run_for(20)
    text = chain_html(world.status())
    assert "epoch <b>1</b>" in text and "n1 → n2" in text


@pytest.mark.cluster
def test_on_real_processes_the_crash_button_kills_and_the_log_follows_the_manager() -> None:
    with Cluster.start(4, service="chain", protocol="cr", seed=11) as cluster:
        assert cluster.wait_for(lambda: chain_converged(cluster), timeout_s=30)
        view = ChainView(cluster)
        assert view.reconfigurations == ["epoch 1: n1 → n2 → n3"]
        view.crash["n3"].click()
        assert cluster.status()["n3"].state == "crashed"
        assert "data-role='crashed'" in view.picture.value
        assert cluster.wait_for(
            lambda: (view.refresh(), view.reconfigurations[-1] == "epoch 2: n1 → n2")[1],
            timeout_s=20,
        )
