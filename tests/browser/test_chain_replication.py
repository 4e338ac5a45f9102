"""Chapter 12 in a real browser: crash the middle of the chain, watch the manager close it.

Runs the chapter up to the cell that shows the ChainView on a simulated chain, checks that
the chain is drawn head to tail (n1 -> n2 -> n3), clicks Crash n2 and Run 1 s, and checks in
the page that the manager's log shows a new epoch without n2 while the card of n2 says it is
down; then Restart n2 and Run 1 s, and n2 is back, at the tail.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "12_chain_replication.ipynb"


def chain_order(view) -> list[str]:
    """The node names of the cards, left to right, with each card's role."""
    cards = view.locator(".distlab-chain-node").all()
    return [
        f"{card.get_attribute('data-node')}:{card.get_attribute('data-role')}" for card in cards
    ]


def test_crash_the_middle_and_watch_the_manager_take_it_back(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"ChainView\(world")
    view = lesson.page.locator(".distlab-chain-view").last
    view.scroll_into_view_if_needed()
    lesson.wait_for(lambda: len(chain_order(view)) == 3, "the chain is drawn")
    assert chain_order(view) == ["n1:head", "n2:middle", "n3:tail"]
    lesson.shot("chain", view)

    view.get_by_role("button", name="Crash n2").click()
    lesson.wait_for(lambda: "n2:crashed" in chain_order(view), "n2 drawn as crashed")
    view.get_by_role("button", name="Run 1 s").click()
    lesson.wait_for(
        lambda: "epoch 2: n1 → n3" in view.inner_text(), "the manager removed n2 (epoch 2)"
    )
    assert chain_order(view)[:2] == ["n1:head", "n3:tail"], chain_order(view)
    lesson.shot("n2-removed", view)

    view.get_by_role("button", name="Restart n2").click()
    view.get_by_role("button", name="Run 1 s").click()
    lesson.wait_for(
        lambda: "epoch 3: n1 → n3 → n2" in view.inner_text(), "n2 added back at the tail"
    )
    assert chain_order(view) == ["n1:head", "n3:middle", "n2:tail"]
    lesson.shot("n2-back-at-the-tail", view)
