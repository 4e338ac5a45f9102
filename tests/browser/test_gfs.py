"""Chapter 6 in a real browser: the GFS panel appends records, draws every replica, and
Crash takes a chunkserver down.

Runs the chapter up to the cell that shows the GFSPanel (a later cell closes the cluster),
clicks "Append 10" and waits for the panel to say the appends were acknowledged and to draw
at least three replicas with record blocks; then clicks Crash on chunkserver n2's card and
checks the card says CRASHED and its Crash button is disabled; Restart brings it back. Every step is
saved as a screenshot in the artifacts directory.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "06_gfs.ipynb"


def gfs_card(panel, name: str):
    return panel.locator(f".distlab-gfs-card[data-node='{name}']").locator("xpath=../../..")


def test_append_draws_the_replicas_and_crash_takes_a_chunkserver_down(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"GFSPanel\(")
    panel = lesson.page.locator(".distlab-gfs-panel").last
    panel.scroll_into_view_if_needed()
    assert panel.locator(".distlab-gfs-card[data-state='up']").count() == 5
    lesson.shot("panel", panel)

    panel.get_by_role("button", name="Append 10").click()
    lesson.wait_for(
        lambda: "appended 10 record(s)" in panel.inner_text(), "ten appends acknowledged", 90
    )
    panel.get_by_role("button", name="Refresh").click()
    lesson.wait_for(
        lambda: (
            panel.locator(".distlab-gfs-replica").count() >= 3
            and panel.locator(".distlab-gfs-block[data-kind='record']").count() >= 10
        ),
        "replicas drawn as record blocks",
    )
    lesson.shot("appended", panel)

    card = gfs_card(panel, "n2")
    card.get_by_role("button", name="Crash").click()
    lesson.wait_for(
        lambda: (
            panel.locator(".distlab-gfs-card[data-node='n2'][data-state='crashed']").count() == 1
        ),
        "n2's card saying CRASHED",
    )
    assert "CRASHED" in panel.locator(".distlab-gfs-card[data-node='n2']").inner_text()
    assert card.get_by_role("button", name="Crash").is_disabled()
    lesson.shot("n2-crashed", panel)
    card.get_by_role("button", name="Restart").click()
    lesson.wait_for(
        lambda: panel.locator(".distlab-gfs-card[data-node='n2'][data-state='up']").count() == 1,
        "n2 up again",
    )
    lesson.shot("n2-restarted", panel)
