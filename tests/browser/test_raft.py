"""Chapter 8 in a real browser: crash the Raft leader from its card, watch a new one win.

Runs the chapter up to the cell that shows the ClusterPanel, waits for exactly one card to
wear the LEADER badge, clicks Crash on that card, and checks in the page that the card shows
the node down (red CRASHED banner, no badge) and that, within a deadline, another card wears
the badge in a higher term (Raft §5.2: a new leader needs a new term). If the panel does not
refresh by itself, the test presses its Refresh button, as a learner would.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "08_raft.ipynb"
ELECTION_DEADLINE_S = 30.0  # generous: the machine is shared and timings are noisy


def leaders(panel) -> list[tuple[str, int]]:
    """(node, term) of every card that wears the LEADER badge right now."""
    found = []
    for node_card in panel.locator(".distlab-node-card").all():
        if node_card.locator(".distlab-leader-badge").count():
            name = node_card.locator("[data-node]").get_attribute("data-node")
            match = re.search(r"term\s+(\d+)", node_card.inner_text())
            assert match, f"a leader card without a term: {node_card.inner_text()!r}"
            found.append((name, int(match.group(1))))
    return found


def wait_for_leader(lesson, panel, other_than: str | None, what: str) -> tuple[str, int]:
    """Poll the page (pressing Refresh now and then) until one leader other than ``other_than``."""
    deadline = time.monotonic() + ELECTION_DEADLINE_S
    last_click = time.monotonic()
    while True:
        current = [(name, term) for name, term in leaders(panel) if name != other_than]
        if len(current) == 1:
            return current[0]
        if time.monotonic() > deadline:
            lesson.shot("no-leader")
            pytest.fail(f"{lesson.name}: not seen within {ELECTION_DEADLINE_S:.0f} s: {what}")
        if time.monotonic() - last_click > 2.0:
            panel.get_by_role("button", name="Refresh").click()
            last_click = time.monotonic()
        time.sleep(0.25)


def crash_the_leader(lesson) -> None:
    """The whole scenario on an opened chapter whose panel shows a Raft cluster."""
    lesson.run_through(r"ClusterPanel\(")
    panel = lesson.page.locator(".distlab-cluster-panel").last
    panel.scroll_into_view_if_needed()
    old_leader, old_term = wait_for_leader(lesson, panel, None, "one card with a LEADER badge")
    lesson.shot("leader-elected", panel)

    victim = panel.locator(".distlab-node-card").filter(
        has=lesson.page.locator(f"[data-node='{old_leader}']")
    )
    victim.get_by_role("button", name="Crash").click()
    lesson.wait_for(
        lambda: victim.locator(".distlab-state").inner_text() == "✖ CRASHED",
        f"{old_leader}'s card saying CRASHED",
    )
    assert victim.locator("[data-state='crashed']").count() == 1
    assert victim.locator(".distlab-leader-badge").count() == 0, "a crashed node still leads"
    lesson.shot("leader-crashed", panel)

    new_leader, new_term = wait_for_leader(
        lesson, panel, old_leader, f"a new LEADER badge after {old_leader} crashed"
    )
    assert new_term > old_term, f"new leader {new_leader} in term {new_term} <= {old_term}"
    assert victim.locator("[data-state='crashed']").count() == 1, "the old leader came back"
    lesson.keep_for_docs(lesson.shot("new-leader", panel), "cluster_panel_raft.png")


def test_crashing_the_leader_elects_another(chapter) -> None:
    crash_the_leader(chapter(NOTEBOOK))
