"""Verdicts print deterministic lines; the check report turns nbval's records into reasons."""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.assignments.checking import (
    SANITIZE_RULES,
    CellResult,
    CheckReport,
    check_title,
    project_sanitize_file,
    verdict_lines,
)
from distlab.assignments.verdict import DETAIL_CHARS, run_checks


def _fails() -> None:
    raise NotImplementedError("write it\nsecond line is dropped")


def test_verdict_lines_and_count():
    verdict = run_checks("Title", [("good", lambda: None), ("bad", _fails)])
    assert not verdict.passed and verdict.failed == ["bad"]
    assert verdict.text().splitlines() == [
        "Title",
        "PASS  good",
        "FAIL  bad -- NotImplementedError: write it",
        "1/2 checks passed",
    ]
    assert repr(verdict) == verdict.text()


def test_long_details_are_cut_and_interrupts_are_not_swallowed():
    def long() -> None:
        raise AssertionError("x" * 500)

    detail = run_checks("T", [("long", long)]).results[0].detail
    assert len(detail) == DETAIL_CHARS and detail.endswith("…")

    def wordy() -> None:
        raise AssertionError(" ".join(f"word{i}" for i in range(100)))

    detail = run_checks("T", [("wordy", wordy)]).results[0].detail
    assert len(detail) <= DETAIL_CHARS and detail.endswith("…")
    last = detail[:-1].split(" ")[-1]
    assert last in {f"word{i}" for i in range(100)}, f"cut mid-word: {last!r}"
    assert detail.startswith("AssertionError: word0 word1")

    def interrupted() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_checks("T", [("stop", interrupted)])


def test_check_titles_and_verdict_parsing():
    assert check_title("\n# Check: leader election\ncheck(x)") == "Check: leader election"
    assert check_title("# check 2: more\n") == "check 2: more"
    assert check_title("x = 1  # Check: no") is None
    parsed = verdict_lines("T\nPASS  a\nFAIL  b -- Error: why\n1/2 checks passed\n")
    assert parsed == {"a": (True, ""), "b": (False, "Error: why")}


EXPECTED = "T\nPASS  a\nPASS  b\n2/2 checks passed\n"


def _cell(outcome: str, got: str, error: str | None = None, reason: str = "") -> CellResult:
    return CellResult(2, "Check: t", outcome, reason, EXPECTED, got, error)


def test_report_names_the_failing_check_and_its_reason():
    got = "T\nPASS  a\nFAIL  b -- AssertionError: lost 3 updates\n1/2 checks passed\n"
    cell = _cell("failed", got, reason="Cell outputs differ")
    assert cell.checks() == [("a", True, ""), ("b", False, "AssertionError: lost 3 updates")]
    report = CheckReport(Path("hw.ipynb"), 1, [cell])
    assert report.failed_checks == ["b"]
    text = report.text()
    assert "    FAIL  b\n            AssertionError: lost 3 updates" in text
    assert "    PASS  a" in text
    assert text.endswith("RESULT: FAIL -- 1 of 2 checks failed")


def test_report_when_the_check_cell_raised_or_a_code_cell_failed():
    raised = _cell("failed", "", error="NameError: name 'Bank' is not defined")
    code = CellResult(
        1, None, "failed", "Cell execution caused an exception", "", "", "SyntaxError: x"
    )
    report = CheckReport(Path("hw.ipynb"), 1, [code, raised])
    assert report.failed_checks == ["a", "b"]
    text = report.text()
    assert "FAIL  cell 1 (not a check cell)\n          raised SyntaxError: x" in text
    assert "raised NameError: name 'Bank' is not defined" in text
    assert text.endswith("2 of 2 checks failed, and 1 other cell failed")


def test_an_edited_check_cell_shows_its_output_once_not_once_per_check():
    expected = "T\n" + "".join(f"PASS  {name}\n" for name in "abcde") + "5/5 checks passed\n"
    cell = CellResult(2, "Check: t", "failed", "Cell outputs differ", expected, "mine\n", None)
    text = CheckReport(Path("hw.ipynb"), 1, [cell], tampered=1).text()
    assert text.count("got:      mine") == 1, text
    assert text.count("expected: PASS  a") == 1, text
    assert all(f"    FAIL  {name}\n" in text for name in "abcd")
    assert text.endswith("RESULT: FAIL -- 5 of 5 checks failed, 1 check cell(s) edited")


def test_report_diff_for_output_that_is_not_a_verdict():
    cell = CellResult(3, "Check: plot", "failed", "Cell outputs differ", "x = 1\n", "x = 2\n", None)
    assert cell.explain() == ["expected: x = 1", "got:      x = 2"]
    assert (
        CheckReport(Path("a.ipynb"), 0, [_cell("passed", EXPECTED)])
        .text()
        .endswith("RESULT: PASS -- all 2 checks passed")
    )


def test_embedded_sanitize_rules_match_the_projects_file():
    path = project_sanitize_file()
    assert path is not None and path.read_text(encoding="utf-8") == SANITIZE_RULES


def test_a_python_without_the_course_is_told_so_and_nothing_is_graded(monkeypatch, capsys):
    from distlab.assignments import checking
    from distlab.assignments.__main__ import main

    notebook = Path(__file__).resolve().parents[2] / "notebooks/assignments/source/01_bank.ipynb"
    monkeypatch.setattr(checking, "_NEEDED", "import distlab_is_not_installed_here")
    assert main(["check", str(notebook)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("NOT GRADED:") and "No module named" in err
    assert ".venv/bin/python -m distlab.assignments check" in err and "RESULT" not in err
