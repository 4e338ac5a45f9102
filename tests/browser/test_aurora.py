"""Chapter 13 in a real browser: crash a zone, then one more node, and probe what still works.

Runs the chapter up to the cell that shows the AuroraPanel on a simulated cluster, checks that
three zone columns of two storage nodes are drawn, clicks Crash a, Run 1 s and Probe (a commit
and a read still work: a row "n1, n2 | yes | yes"), then Crash n3, Run 1 s and Probe again:
writes are refused with the clear error, reads still work.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "13_aurora.ipynb"


def states(panel) -> dict[str, str]:
    """Each storage node card's state, by node name."""
    cards = panel.locator(".distlab-aurora-node").all()
    return {card.get_attribute("data-node"): card.get_attribute("data-state") for card in cards}


def test_a_zone_down_still_writes_and_a_zone_plus_one_only_reads(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"AuroraPanel\(world")
    panel = lesson.page.locator(".distlab-aurora-panel").last
    panel.scroll_into_view_if_needed()
    lesson.wait_for(lambda: len(states(panel)) == 6, "six storage nodes are drawn")
    assert panel.locator(".distlab-aurora-zone").count() == 3
    lesson.shot("zones", panel)

    panel.get_by_role("button", name="Crash a").click()
    lesson.wait_for(
        lambda: states(panel)["n1"] == states(panel)["n2"] == "crashed", "zone a drawn as down"
    )
    panel.get_by_role("button", name="Run 1 s").click()
    panel.get_by_role("button", name="Probe").click()
    table = panel.locator(".distlab-aurora-availability")
    lesson.wait_for(lambda: "n1, n2" in table.inner_text(), "a probe row for zone a down")
    assert "NO" not in table.inner_text(), table.inner_text()

    panel.get_by_role("button", name="Crash n3").click()
    panel.get_by_role("button", name="Run 1 s").click()
    panel.get_by_role("button", name="Probe").click()
    lesson.wait_for(
        lambda: "write quorum unavailable: 3 of 6" in table.inner_text(),
        "writes refused with a zone plus one node down",
    )
    last_row = table.locator("tr").last.inner_text()
    assert "NO" in last_row and "yes" in last_row, last_row  # no writes, but reads
    lesson.shot("zone-plus-one", panel)
