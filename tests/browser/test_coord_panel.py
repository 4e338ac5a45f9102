"""Chapter 11 in a real browser: the coordination panel's tree, a session expired, the queue.

Runs the chapter up to the cell that shows CoordPanel, checks the tree (the lock queue with
its holder, ephemeral znodes with their sessions), clicks "Expire c1" and "Crash" on the
leader, and checks in the page that c1's session is expired, its lock znode gone, and that
the verdict still reads one holder at most.
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

NOTEBOOK = "11_zookeeper.ipynb"


def test_expire_a_session_and_crash_the_leader(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"CoordPanel\(seed")
    widget = lesson.output
    widget.scroll_into_view_if_needed()
    text = widget.inner_text()
    assert "<- holds the lock" in text, text
    assert "most lock holders at once: 1" in text, text
    lesson.shot("before", widget)

    widget.get_by_role("button", name="Expire c1").click()
    lesson.wait_for(lambda: "c1: session 2 expired" in widget.inner_text(), "c1's session expired")
    assert "'c1'" not in widget.inner_text()  # its lock znode went with the session
    leader = re.search(r"(n\d): leader", widget.inner_text())
    assert leader, widget.inner_text()
    widget.get_by_role("button", name=f"Crash {leader.group(1)}").click()
    lesson.wait_for(
        lambda: f"{leader.group(1)}: crashed" in widget.inner_text(), "the leader crashed"
    )
    widget.get_by_role("button", name="Run 1 s").click()
    lesson.wait_for(
        lambda: re.search(r"n\d: leader", widget.inner_text()) is not None, "a new leader"
    )
    after = lesson.shot("after", widget)
    assert "most lock holders at once: 1" in widget.inner_text()
    lesson.keep_for_docs(after, "coord_panel.png")
