"""ClusterPanel driven from Python: buttons really crash, restart, pause and partition."""

from __future__ import annotations

import time

import psutil
import pytest

from distlab.cluster import Cluster
from distlab.cluster.programs import Echo
from distlab.widgets.cluster_panel import ClusterPanel

pytestmark = pytest.mark.cluster


def test_buttons_control_real_processes() -> None:
    with Cluster.start(3, program=Echo, seed=21) as cluster:
        panel = ClusterPanel(cluster)
        card = panel.cards["n1"]
        assert "up" in card.info.value and card.restart.disabled and not card.crash.disabled
        pid = cluster.pid("n1")
        card.crash.click()
        with pytest.raises(psutil.NoSuchProcess):
            psutil.Process(pid)  # really gone (crash() joined it, so not even a zombie)
        assert "crashed" in card.info.value and not card.restart.disabled
        card.restart.click()
        assert cluster.status()["n1"].alive and "up" in card.info.value
        card.pause.click()
        assert cluster.status()["n1"].state == "paused" and card.pause.description == "Resume"
        card.pause.click()
        assert cluster.status()["n1"].alive and card.pause.description == "Pause"
        panel.groups.value = "n0 | n1 n2"
        panel.partition.click()
        asker = cluster.client("n0", client_name="controller")
        assert not asker.call("Echo.ping_peer", "n1", 0.5, timeout=10.0)
        panel.heal.click()
        assert asker.call("Echo.ping_peer", "n1", 2.0, timeout=10.0)
        panel.groups.value = "n0 | n0"
        panel.partition.click()
        assert "two partition groups" in panel.message.value  # errors are shown, not raised
        panel.start_live(0.05)
        cluster.crash("n2")
        deadline = time.monotonic() + 30
        while "crashed" not in panel.cards["n2"].info.value:
            assert time.monotonic() < deadline, "live refresh never showed the crash"
            time.sleep(0.05)
        panel.stop_live()
