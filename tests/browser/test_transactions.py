"""Chapter 15 in a real browser: the transactions panel, a prepared shard blocked by a dead
coordinator, then released by its restart.

Runs the chapter up to the cell that shows TxnPanel, checks the shard cards (balances, lock
tables, prepared transactions) and the verdict, clicks "Prepare, then kill the coordinator",
checks in the page that the coordinator is down and a shard holds a prepared transaction with
its exclusive locks, then clicks "Restart n0" and "Run 1 s" and checks that nothing is left
prepared and the money is intact.
"""

from __future__ import annotations

import re

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "15_transactions.ipynb"


def test_kill_the_coordinator_after_prepare_and_restart_it(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"TxnPanel\(seed")
    widget = lesson.output
    widget.scroll_into_view_if_needed()
    text = widget.inner_text()
    assert "n0 coordinator [up]" in text, text
    assert "money: 400 of 400" in text and "checker: serializable" in text, text
    lesson.shot("before", widget)

    widget.get_by_role("button", name="Prepare, then kill the coordinator").click()
    lesson.wait_for(lambda: "n0 coordinator [DOWN]" in widget.inner_text(), "n0 down")
    blocked = re.search(r"prepared: \[(\d+)\]", widget.inner_text())
    assert blocked, widget.inner_text()
    assert f"X by {blocked.group(1)}" in widget.inner_text()  # holding its locks
    lesson.shot("blocked", widget)

    widget.get_by_role("button", name="Restart n0").click()
    lesson.wait_for(lambda: "n0 coordinator [up]" in widget.inner_text(), "n0 back")
    widget.get_by_role("button", name="Run 1 s").click()
    lesson.wait_for(
        lambda: f"prepared: [{blocked.group(1)}]" not in widget.inner_text(), "resolved"
    )
    after = lesson.shot("after", widget)
    assert "money: 400 of 400" in widget.inner_text()
    lesson.keep_for_docs(after, "txn_panel.png")
