"""The other chapters' widgets in a real browser: they render, react to a click, and fit.

A small notebook written into the temporary working copy shows each widget exactly as its
chapter builds it (same constructor calls: chapters 2, 3 and 4), so one kernel start covers
three widgets. Each is clicked the way a learner would, checked in the page, and photographed
(``DISTLAB_UPDATE_SCREENSHOTS=1`` copies the pictures to docs/screenshots/).
"""

from __future__ import annotations

import re

import nbformat
import pytest

pytestmark = [
    pytest.mark.browser,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "_widget_gallery.ipynb"  # written into the temporary copy, never into notebooks/
CELLS = [
    # chapter 2
    "from distlab.widgets.races import CounterRace\nCounterRace(threads=4, increments=200)",
    # chapter 3
    "from distlab.widgets.rpc_semantics import RpcSemanticsPanel\n"
    "RpcSemanticsPanel(drop_rate=0.3, operations=20, seed=1)",
    # chapter 4, with shorter map tasks: the look is the same, the wait is shorter
    "from distlab.mapreduce import Job, corpus_paths, slow_word_count\n"
    "from distlab.widgets.mapreduce_progress import MapReduceProgress\n"
    "job = Job(slow_word_count(map_delay_s=0.4, reduce_delay_s=0.003), corpus_paths(),\n"
    # (its files in the working copy, which the session removes: the kernel is stopped
    # with the job still open)
    "          n_reduce=3, workers=2, work_dir='gallery-mapreduce').start()\n"
    "panel = MapReduceProgress(job).watch()\n"
    "panel",
    "job.wait_for_task_running(after_done=2)",
]


def write_notebook(root) -> None:
    """Create the gallery notebook in the working copy (the session calls this first)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nbformat.write(notebook, root / NOTEBOOK)


def output_of(lesson, index: int):
    """The output area of the index-th code cell."""
    return lesson.page.locator(".jp-CodeCell").nth(index).locator(".jp-OutputArea-output").first


def test_chapter_widgets_render_and_react(chapter, lab) -> None:
    if not (lab.root / NOTEBOOK).exists():
        write_notebook(lab.root)
    lesson = chapter(NOTEBOOK)
    lesson.run_through()

    # Chapter 2: the race loses updates without a lock and none with the Mutex.
    race = output_of(lesson, 0)
    result = race.locator(".widget-label").last
    assert re.search(r"expected 800, got \d+, lost \d+", result.inner_text())
    race.get_by_role("checkbox", name="use Mutex").check()
    lesson.wait_for(lambda: "with Mutex" in result.inner_text(), "the race re-run with a Mutex")
    assert "got 800, lost 0" in result.inner_text()
    lesson.keep_for_docs(lesson.shot("counter-race", race), "counter_race.png")

    # Chapter 3: both delivery modes in one table, at-most-once without duplicates.
    rpc = output_of(lesson, 1)
    rows = rpc.locator("table tr")
    assert rows.count() == 3, rpc.inner_text()
    at_most_once = rows.filter(has_text="at-most-once").locator("td")
    assert at_most_once.nth(4).inner_text() == "0", "at-most-once executed an append twice"
    lesson.keep_for_docs(lesson.shot("rpc-semantics", rpc), "rpc_semantics.png")

    # Chapter 4: kill a worker mid-job; the job still finishes every task.
    progress = output_of(lesson, 2)
    progress.get_by_role("button", name="kill a worker").click()
    lesson.wait_for(lambda: "SIGKILL" in progress.inner_text(), "the kill reported")
    lesson.shot("mapreduce-killed", progress)
    lesson.wait_for(
        lambda: "phase: done" in progress.inner_text(), "the job done after the kill", 90
    )
    text = progress.inner_text()
    assert "8/8 done" in text and "3/3 done" in text, text
    assert not re.search(r"re-executions: 0\b", text), "the killed worker's task never re-ran"
    lesson.keep_for_docs(lesson.shot("mapreduce-done", progress), "mapreduce_progress.png")
