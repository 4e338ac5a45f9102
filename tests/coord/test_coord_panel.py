"""CoordPanel's logic without a browser: click the buttons, read the labels."""

from __future__ import annotations

from distlab.widgets import CoordPanel


def test_the_panel_shows_the_tree_the_queue_and_the_verdict() -> None:
    panel = CoordPanel(seed=0)
    panel.run_button.click()
    assert "<- holds the lock" in panel.tree_view.value
    assert panel.tree_view.value.count("[ephemeral, session") >= 2
    assert "leader" in panel.servers_view.value
    assert "most lock holders at once: 1" in panel.verdict.value


def test_expire_crash_partition_and_the_lock_stays_exclusive() -> None:
    panel = CoordPanel(seed=1)
    panel.expire_buttons["c1"].click()
    assert "c1: session 2 expired (paused)" in panel.sessions_view.value
    assert "'c1'" not in panel.tree_view.value  # its lock znode went with the session
    leader = panel.leader()
    panel.crash_buttons[leader].click()
    assert f"{leader}: crashed" in panel.servers_view.value
    panel.run_button.click()
    panel.restart_buttons[leader].click()
    panel.partition_button.click()
    panel.run_button.click()
    panel.heal_button.click()
    before = panel.acquisitions
    panel.run_button.click()
    assert panel.acquisitions > before  # the remaining clients still take turns
    assert panel.most_holders == 1
