"""Chapter 9's HistoryExplorer in a real browser: pick a key, see its verdict and timeline.

Runs the chapter up to the cell that shows the explorer on the broken 10,000-operation run.
It opens on the first broken key: the page must say NOT linearizable, show the
counterexample and a timeline picture. The test then chooses a linearizable key in the
dropdown, as a learner would, and checks that the verdict, the numbered witness order and
the picture follow.
"""

from __future__ import annotations

import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "09_linearizability.ipynb"


def test_choosing_a_key_shows_its_witness_or_its_counterexample(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"HistoryExplorer\(")
    explorer = lesson.page.locator(".distlab-history-explorer").last
    explorer.scroll_into_view_if_needed()
    verdict = explorer.locator(".distlab-history-verdict")
    lesson.wait_for(lambda: verdict.count() == 1, "the explorer's verdict block")
    assert verdict.get_attribute("data-verdict") == "violation", verdict.inner_text()
    assert "NOT linearizable" in verdict.inner_text()
    assert "counterexample" in verdict.inner_text()
    picture = explorer.locator("img")
    lesson.wait_for(lambda: picture.count() == 1, "the timeline picture")
    red_picture = picture.get_attribute("src")
    lesson.shot("broken-key", explorer)

    dropdown = explorer.locator("select")
    # ipywidgets shows spaces in option labels as no-break spaces
    labels = [t.replace("\xa0", " ").strip() for t in dropdown.locator("option").all_inner_texts()]
    linearizable = [label for label in labels if label.endswith("· linearizable")]
    broken = [label for label in labels if label.endswith("NOT linearizable")]
    assert linearizable and broken, f"every key should be labelled with its verdict: {labels}"
    dropdown.select_option(index=labels.index(linearizable[0]))
    key = linearizable[0].split(" ")[0]
    lesson.wait_for(lambda: verdict.get_attribute("data-key") == key, f"the verdict for key {key}")
    assert verdict.get_attribute("data-verdict") == "ok", verdict.inner_text()
    assert explorer.locator(".distlab-witness-order li").count() >= 1, verdict.inner_text()
    assert "witness" in verdict.inner_text()
    lesson.wait_for(lambda: picture.get_attribute("src") != red_picture, "a redrawn timeline")
    lesson.keep_for_docs(lesson.shot("linearizable-key", explorer), "history_explorer.png")
