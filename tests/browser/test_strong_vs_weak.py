"""Chapter 10 in a real browser: Partition, then the anomaly counts and the checker's verdict.

Runs the chapter up to the cell that shows the StrongVsWeak widget, clicks its Partition
button, waits for the run to finish, and checks in the page, side by side, what the chapter
teaches: the strong (Raft) store shows no stale read, loses no acknowledged write and stays
linearizable; the weak store shows stale reads and the checker says it is not linearizable.
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

NOTEBOOK = "10_kv_strong_vs_weak.ipynb"
RUN_DEADLINE_S = 90.0  # both workloads under a partition, then the checker, on a busy machine


def counts(label: str, text: str) -> list[str]:
    """Every value shown after ``label:``, in page order (strong panel first, then weak)."""
    return re.findall(rf"{label}: (\S+)", text)


def test_partition_shows_anomalies_and_verdicts(chapter) -> None:
    lesson = chapter(NOTEBOOK)
    lesson.run_through(r"StrongVsWeak\(")
    widget = lesson.output
    widget.scroll_into_view_if_needed()
    text = widget.inner_text()
    assert text.index("strong (") < text.index("weak ("), text
    assert counts("linearizable", text) == ["-", "-"], "a verdict before any run"
    lesson.shot("before-partition", widget)

    widget.get_by_role("button", name="Partition").click()
    lesson.wait_for(
        lambda: "done (partitioned and healed)" in widget.inner_text(),
        "the partitioned run finished",
        RUN_DEADLINE_S,
    )
    text = widget.inner_text()
    after = lesson.shot("after-partition", widget)
    strong_verdict, weak_verdict = counts("linearizable", text)
    strong_stale, weak_stale = counts("stale reads", text)
    strong_lost, _weak_lost = counts("acknowledged writes lost", text)
    assert int(weak_stale) > 0, f"the weak store served no stale read:\n{text}"
    assert weak_verdict == "False", f"the checker passed the weak store:\n{text}"
    assert (strong_verdict, strong_stale, strong_lost) == ("True", "0", "0"), (
        f"the strong store misbehaved (or was judged against stale data):\n{text}"
    )
    lesson.keep_for_docs(after, "strong_vs_weak.png")  # only a picture of the right verdicts
