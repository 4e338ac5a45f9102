"""Chapter 5 in a real browser: Crash on a ClusterPanel card really takes the node down.

Runs the chapter in JupyterLab up to the cell that shows the panel (a later cell closes the
cluster), clicks Crash on n1's card, and checks in the page what a learner sees: a red
"CRASHED" banner on that card only, its buttons flipped, and the process really gone. Restart
brings it back. Every step is saved as a screenshot in the artifacts directory.
"""

from __future__ import annotations

import re

import psutil
import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "05_fault_tolerance.ipynb"
CRASHED_RED = "rgb(198, 40, 40)"  # #c62828, the banner of a crashed node


def card(panel, name: str):
    """The card of one node inside a ClusterPanel."""
    return panel.locator(".distlab-node-card").filter(
        has=panel.page.locator(f"[data-node='{name}']")
    )


def pid_shown(node_card) -> int:
    match = re.search(r"pid\s+(\d+)", node_card.inner_text())
    assert match, f"no pid on the card: {node_card.inner_text()!r}"
    return int(match.group(1))


def test_crash_button_shows_the_node_down(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.shot("opened")
    lesson.run_through(r"ClusterPanel\(")
    panel = lesson.page.locator(".distlab-cluster-panel").last
    panel.scroll_into_view_if_needed()
    for name in ("n0", "n1", "n2"):
        assert card(panel, name).locator("[data-state='up']").count() == 1, f"{name} not up"
    assert "3 of 3 nodes up" in panel.inner_text()
    lesson.shot("panel-all-up", panel)

    victim = card(panel, "n1")
    pid = pid_shown(victim)
    assert psutil.pid_exists(pid)
    victim.get_by_role("button", name="Crash").click()

    banner = victim.locator(".distlab-state")
    lesson.wait_for(lambda: banner.inner_text() == "✖ CRASHED", "n1's banner saying CRASHED")
    lesson.shot("n1-crashed", panel)
    lesson.shot("n1-crashed-page")
    assert victim.locator("[data-state='crashed']").count() == 1
    background = victim.locator("[data-state='crashed'] > div").first.evaluate(
        "element => getComputedStyle(element).backgroundColor"
    )
    assert background == CRASHED_RED, f"crashed banner is {background}, not red"
    border = victim.evaluate(
        "element => [getComputedStyle(element).borderTopWidth,"
        " getComputedStyle(element).borderTopColor]"
    )
    assert border == ["3px", CRASHED_RED], f"crashed card border is {border}"
    assert victim.get_by_role("button", name="Crash").is_disabled()
    assert victim.get_by_role("button", name="Restart").is_enabled()
    assert "pid" not in victim.inner_text()  # no process, so no pid
    assert not psutil.pid_exists(pid), "the card says crashed but the process still runs"
    for name in ("n0", "n2"):
        assert card(panel, name).locator("[data-state='up']").count() == 1, f"{name} went down"
    assert "2 of 3 nodes up" in panel.inner_text()
    lesson.keep_for_docs(lesson.steps[-2], "cluster_panel.png")

    victim.get_by_role("button", name="Restart").click()
    lesson.wait_for(lambda: banner.inner_text() == "● UP", "n1 up again after Restart")
    assert pid_shown(victim) != pid
    lesson.shot("n1-restarted", panel)
