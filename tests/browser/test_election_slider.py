"""Chapter 8's ElectionSlider in a real browser: moving the slider re-runs the elections.

A one-cell notebook in the temporary working copy builds the widget exactly as the chapter
does; the test moves the slider with the keyboard, as a learner could, and checks that the
summary and the plot follow. Its picture goes to docs/screenshots/ on request.
"""

from __future__ import annotations

import nbformat
import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "_election_slider.ipynb"  # written into the temporary copy, never into notebooks/
CELL = "from distlab.widgets.election_slider import ElectionSlider\nElectionSlider(low=15, high=30)"


def write_notebook(root) -> None:
    """Create the one-cell notebook in the working copy (the session calls this first)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(CELL)]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, root / NOTEBOOK)


def test_slider_reruns_the_elections(chapter, lab) -> None:
    if not (lab.root / NOTEBOOK).exists():
        write_notebook(lab.root)
    lesson = chapter(NOTEBOOK)
    lesson.run_through()
    widget = lesson.output
    lesson.wait_for(lambda: widget.locator("img").count() == 1, "the election-time plot")
    summary = widget.locator(".widget-label").last
    assert "15-30 ticks" in summary.inner_text(), summary.inner_text()
    first_plot = widget.locator("img").last.get_attribute("src")
    lesson.keep_for_docs(lesson.shot("timeouts-15-30", widget), "election_slider.png")

    widget.get_by_role("slider").focus()
    for _ in range(10):
        lesson.page.keyboard.press("ArrowLeft")
    lesson.wait_for(lambda: "15-20 ticks" in summary.inner_text(), "the summary for 15-20 ticks")
    lesson.wait_for(
        lambda: widget.locator("img").last.get_attribute("src") != first_plot, "a redrawn plot"
    )
    lesson.shot("timeouts-15-20", widget)
