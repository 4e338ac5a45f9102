"""A pytest plugin that writes what nbval saw, cell by cell, to a JSON file.

What it is: loaded with ``-p distlab.assignments.nbval_report`` by the check
command (`distlab.assignments.checking`). For every notebook cell nbval ran it
records the outcome, nbval's reason, the stored (expected) output text and the
output text of this run, and at the end of the session writes them as a JSON
list to the path in the environment variable `REPORT_ENV`.

What it must never do: change an outcome, or record anything when `REPORT_ENV`
is unset (then it is inert, so loading it by accident is harmless).
Where it fits: between nbval (which runs the notebook) and the check command's
readable report; nbval's own failure text is a raw diff meant for developers.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

REPORT_ENV = "DISTLAB_NBVAL_REPORT"

_records: dict[str, dict[str, Any]] = {}


def output_text(outputs: Any) -> str:
    """The text a learner would read in a cell's outputs (streams, text/plain, errors)."""
    parts: list[str] = []
    for output in outputs or []:
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(str(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {})
            if "text/plain" in data:
                text = data["text/plain"]
                parts.append(("".join(text) if isinstance(text, list) else str(text)) + "\n")
        elif kind == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}\n")
    return "".join(parts)


def _error_of(outputs: Any) -> str | None:
    for output in outputs or []:
        if output.get("output_type") == "error":
            return f"{output.get('ename')}: {output.get('evalue')}"
    return None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Any:
    outcome = yield
    if not os.environ.get(REPORT_ENV) or not hasattr(item, "cell_num"):
        return
    report = outcome.get_result()
    if call.when == "setup" and report.passed:
        return  # the call phase will say more
    if call.when == "teardown":
        return
    reason = ""
    if call.excinfo is not None:
        reason = str(call.excinfo.value).strip().splitlines()[0] if str(call.excinfo.value) else ""
    state = report.outcome
    if hasattr(report, "wasxfail"):
        state = "not run"
    cell = item.cell  # type: ignore[attr-defined]
    got = getattr(item, "test_outputs", None)
    _records[item.nodeid] = {
        "cell": item.cell_num,
        "source": cell.source,
        "outcome": state,
        "reason": reason,
        "expected": output_text(cell.get("outputs")),
        "got": output_text(got) if got is not None else "",
        "error": _error_of(got),
    }


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    path = os.environ.get(REPORT_ENV)
    if not path:
        return
    records = sorted(_records.values(), key=lambda record: record["cell"])
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"exitstatus": int(exitstatus), "cells": records}, handle)
