"""Chapter 14 in a real browser: a write on n1, a read on n2, and the revoke in between.

Runs the chapter up to the cell that shows the FrangipaniPanel, clicks Write (n1 writes
``/a``: its card turns dirty), picks n2 and clicks Read, and checks in the page what a
learner sees: the value n1 wrote, the revoke and the write-back in the event list, and the
checker's verdict "linearizable: True". Then it crashes n2 and sees its card crashed.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "14_frangipani.ipynb"


def card(panel, name: str, attribute: str) -> str | None:
    return panel.locator(f".distlab-fr-card[data-node='{name}']").get_attribute(attribute)


def test_a_read_on_another_workstation_revokes_and_writes_back(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"FrangipaniPanel\(")
    panel = lesson.page.locator(".distlab-frangipani-panel").last
    panel.scroll_into_view_if_needed()
    lesson.wait_for(lambda: card(panel, "n1", "data-alive") == "true", "n1's card")
    verdict = panel.locator(".distlab-frangipani-verdict")

    panel.get_by_role("button", name="Write").click()
    lesson.wait_for(lambda: card(panel, "n1", "data-dirty") == "true", "n1's cache dirty")
    panel.locator("select").select_option("n2")
    panel.get_by_role("button", name="Read", exact=True).click()
    lesson.wait_for(lambda: "read /a -> 'v1'" in panel.inner_text(), "n2 reading n1's write")
    text = panel.inner_text()
    assert "revoke /a (wanted by n2)" in text
    assert "writes back 1 block(s), releases /a" in text
    assert "linearizable: True" in verdict.inner_text()
    lesson.keep_for_docs(lesson.shot("revoke", panel), "frangipani_panel.png")

    panel.get_by_role("button", name="Crash").click()
    lesson.wait_for(lambda: card(panel, "n2", "data-alive") == "false", "n2's card crashed")
    lesson.shot("crashed", panel)
