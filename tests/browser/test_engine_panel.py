"""Chapter 16's EnginePanel in a real browser: press Run, a real Redis experiment's verdict.

A one-cell notebook in the temporary working copy builds the panel exactly as the chapter
does. The test presses Run, as a learner would, waits for the run on real redis-server
processes to finish, and checks in the page the verdict the chapter teaches (asynchronous
replication plus a failover: not linearizable, acknowledged writes lost) and that the
history explorer under it opened on a counterexample. Skips with the reason when Redis is
not installed (the panel itself then says what to install, see tests/engines).
"""

from __future__ import annotations

import shutil

import nbformat
import pytest

pytestmark = [
    pytest.mark.browser,
    pytest.mark.engines,
    # JupyterLab, Chromium and Playwright's driver live for the whole session; the session
    # fixture stops them and fails if anything survives. Kernels and nodes stop after each test.
    pytest.mark.allow_leftover_processes,
]

NOTEBOOK = "_engine_panel.ipynb"  # written into the temporary copy, never into notebooks/
CELL = 'from distlab.widgets import EnginePanel\n\nEnginePanel(experiment="redis-cut", seed=2)'
RUN_DEADLINE_S = 90.0  # three redis-server processes, a 3 s workload and the checker


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


def test_run_shows_the_redis_verdict_and_its_history(chapter, lab) -> None:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server)")
    pytest.importorskip("redis", reason="the redis (redis-py) client package is not installed")
    if not (lab.root / NOTEBOOK).exists():
        write_notebook(lab.root)
    lesson = chapter(NOTEBOOK)
    lesson.run_through()
    panel = lesson.page.locator(".distlab-engine-panel").last
    status = panel.locator(".distlab-engine-status")
    lesson.wait_for(lambda: "ready" in status.inner_text(), "the panel ready to run")
    panel.get_by_role("button", name="Run").click()
    lesson.wait_for(lambda: "done in" in status.inner_text(), "the run finished", RUN_DEADLINE_S)
    assert "NOT linearizable" in status.inner_text(), status.inner_text()
    row = panel.locator(".distlab-engine-result tr").last.locator("td").all_inner_texts()
    headers = panel.locator(".distlab-engine-result tr").first.locator("th").all_inner_texts()
    values = dict(zip(headers, row, strict=True))
    assert values["system"] == "redis" and values["linearizable"] == "NO", values
    assert int(values["acked writes lost"]) > 0, values
    verdict = panel.locator(".distlab-history-explorer .distlab-history-verdict")
    assert verdict.get_attribute("data-verdict") == "violation", verdict.inner_text()
    lesson.keep_for_docs(lesson.shot("redis-run", panel), "engine_panel.png")
