"""Chapter 7 in a real browser: crash the primary from the panel, the backup takes over.

Runs the chapter up to the cell that shows the PrimaryBackupPanel, sends a request, clicks
"Crash the primary", sends another request (the panel's client fails over), and checks in
the page what a learner sees: n0's card crashed, n1's card live, and the checker's verdict
still "linearizable: True" with no rule broken. Then it unticks test-and-set, cuts the
logging channel, lets time pass, and sees two live cards and the rule named in the verdict.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "07_primary_backup.ipynb"


def role(panel, name: str) -> str | None:
    return panel.locator(f".distlab-pb-card[data-node='{name}']").get_attribute("data-role")


def test_crash_the_primary_then_split_the_brain(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"PrimaryBackupPanel\(")
    panel = lesson.page.locator(".distlab-primary-backup-panel").last
    panel.scroll_into_view_if_needed()
    lesson.wait_for(lambda: role(panel, "n0") == "primary", "n0's card as the primary")
    assert role(panel, "n1") == "backup"
    verdict = panel.locator(".distlab-pb-verdict")

    panel.get_by_role("button", name="Send a request").click()
    lesson.wait_for(lambda: "1," in panel.inner_text(), "the first reply in the event list")
    panel.get_by_role("button", name="Crash the primary").click()
    lesson.wait_for(lambda: role(panel, "n0") == "crashed", "n0's card crashed")
    panel.get_by_role("button", name="Send a request").click()
    lesson.wait_for(lambda: role(panel, "n1") == "live", "n1's card live after the failover")
    assert "linearizable: True" in verdict.inner_text()
    assert "rules broken: none" in verdict.inner_text()
    lesson.keep_for_docs(lesson.shot("failover", panel), "primary_backup_panel.png")

    panel.get_by_role("checkbox", name="test-and-set").uncheck()
    lesson.wait_for(lambda: role(panel, "n0") == "primary", "a fresh pair without the rule")
    panel.get_by_role("button", name="Cut logging channel").click()
    panel.get_by_role("button", name="Run 0.5 s").click()
    lesson.wait_for(
        lambda: role(panel, "n0") == "live" and role(panel, "n1") == "live",
        "two live cards: split brain",
    )
    assert "At Most One Live Replica" in verdict.inner_text()
    lesson.shot("split-brain", panel)
