"""Check: run nbval on one learner notebook and explain the result in plain words.

What it is: `check_notebook(path)` runs ``pytest --nbval`` on the notebook in a
subprocess (the project's sanitize rules, a cell timeout, no project config),
with the `distlab.assignments.nbval_report` plugin recording every cell, and
returns a `CheckReport`. Its `text()` lists each check cell (a code cell whose
first line is a comment starting with ``# Check``) as PASS or FAIL, and for a
failure says why: the exception the cell raised, or the verdict lines that
differ from the expected ones (``expected:`` / ``got:``). Other cells appear
only when they fail (a syntax error in the learner's code, say).

What it must never do: decide pass/fail itself. nbval's exit status is the
verdict; this module only explains it. It never edits the notebook.
Where it fits: ``python -m distlab.assignments check NOTEBOOK``; the tests in
tests/assignments run it on released notebooks and expect it to fail.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from distlab.assignments.nbval_report import REPORT_ENV
from distlab.assignments.tampering import find_tampering

DEFAULT_CELL_TIMEOUT_S = 120
MAX_DIFF_LINES = 12

# The rules of notebooks/sanitize.cfg, for a distlab installed without the repository.
# tests/assignments checks that the two stay equal.
SANITIZE_RULES = """[ports]
regex: 127\\.0\\.0\\.\\d+:\\d+
replace: 127.0.0.X:PORT

[pids]
regex: pid[= ]\\d+
replace: pid=PID
"""

_CHECK_TITLE = re.compile(r"^#\s*(check\b.*)$", re.IGNORECASE)
_VERDICT_LINE = re.compile(r"^(PASS|FAIL)  (.*?)(?: -- (.*))?$")


def verdict_lines(text: str) -> dict[str, tuple[bool, str]]:
    """``{check name: (passed, detail)}`` from a printed `Verdict`."""
    found: dict[str, tuple[bool, str]] = {}
    for line in text.splitlines():
        match = _VERDICT_LINE.match(line.rstrip())
        if match:
            found[match.group(2)] = (match.group(1) == "PASS", match.group(3) or "")
    return found


def project_sanitize_file() -> Path | None:
    """notebooks/sanitize.cfg of the repository this distlab comes from, if there is one."""
    candidate = Path(__file__).resolve().parents[2] / "notebooks" / "sanitize.cfg"
    return candidate if candidate.is_file() else None


def check_title(source: str) -> str | None:
    """``Check 2: re-election`` for a cell starting with ``# Check 2: re-election``, else None."""
    for line in source.splitlines():
        if line.strip():
            match = _CHECK_TITLE.match(line.strip())
            return match.group(1).strip() if match else None
    return None


@dataclass(frozen=True)
class CellResult:
    """One cell as nbval saw it."""

    cell: int
    title: str | None  # set for check cells
    outcome: str  # passed | failed | skipped | not run
    reason: str
    expected: str
    got: str
    error: str | None

    @property
    def ok(self) -> bool:
        return self.outcome in ("passed", "skipped")

    def explain(self) -> list[str]:
        """Why this cell failed, as lines."""
        if self.ok:
            return []
        if self.outcome == "not run":
            return ["not run: an earlier cell timed out"]
        if "Timeout" in self.reason or "timed out" in self.reason.lower():
            return [f"{self.reason} (an endless loop, or threads waiting for each other?)"]
        if self.error is not None:
            return [f"raised {self.error}"]
        if "differ" in self.reason:
            return _verdict_diff(self.expected, self.got)
        return [self.reason or "failed"]

    def cell_reason(self) -> str:
        """Why a check this cell did not report failed: the cell's own failure, one line."""
        return "; ".join(self.explain()) or "no verdict printed"

    def checks(self) -> list[tuple[str, bool, str]]:
        """The named checks this cell's expected verdict lists: (name, passed now, why not).

        A check the cell did not report (it raised, or its output is not a verdict)
        counts as failed, with the cell's own explanation.
        """
        expected = verdict_lines(self.expected)
        if not expected:
            return []
        got = verdict_lines(self.got) if self.outcome in ("passed", "failed") else {}
        cell_reason = self.cell_reason()
        results = []
        for name, (should_pass, _) in expected.items():
            if name in got:
                passed, detail = got[name]
                if passed == should_pass:
                    results.append((name, True, ""))
                else:
                    results.append((name, False, detail or "expected FAIL, got PASS"))
            else:
                results.append((name, self.ok, "" if self.ok else cell_reason))
        return results


def _verdict_diff(expected: str, got: str) -> list[str]:
    lines: list[str] = []
    for line in difflib.ndiff(expected.splitlines(), got.splitlines()):
        if line.startswith("- "):
            lines.append(f"expected: {line[2:]}")
        elif line.startswith("+ "):
            lines.append(f"got:      {line[2:]}")
    if not lines:
        lines = ["the output differs from the expected one only in spacing or invisible text"]
    if len(lines) > MAX_DIFF_LINES:
        lines = [*lines[:MAX_DIFF_LINES], f"... and {len(lines) - MAX_DIFF_LINES} more lines"]
    return lines


@dataclass(frozen=True)
class CheckReport:
    """The result of checking one notebook."""

    notebook: Path
    returncode: int
    cells: list[CellResult] = field(default_factory=list)
    pytest_output: str = ""
    tampered: int = 0  # check cells whose source or expected output differ from the release
    # Places in the learner's cells that could stand in for a check (distlab.assignments
    # .tampering): a notebook that tries to grade itself fails.
    self_grading: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """nbval's verdict (every cell ran and matched), no check cell edited, and no cell
        that stands in for a check."""
        return self.returncode == 0 and not self.tampered and not self.self_grading

    @property
    def checks(self) -> list[CellResult]:
        """The check cells, in order."""
        return [cell for cell in self.cells if cell.title is not None]

    @property
    def failed_checks(self) -> list[str]:
        """Names of the checks that failed (verdict lines, or whole check cells)."""
        return [name for name, passed, _ in self.check_lines() if not passed]

    def check_lines(self) -> list[tuple[str, bool, str]]:
        """Every named check of every check cell: (name, passed, why not)."""
        found = []
        for cell in self.checks:
            named = cell.checks()
            found.extend(named or [(cell.title or f"cell {cell.cell}", cell.ok, "")])
        return found

    def text(self) -> str:
        """A report for the learner: every check, why the failed ones failed, and a summary."""
        lines = [f"Checking {self.notebook.name}"]
        if not self.cells:
            lines.append("nbval did not run any cell. pytest said:")
            lines.extend("  " + line for line in self.pytest_output.strip().splitlines()[-15:])
            lines.append("RESULT: FAIL")
            return "\n".join(lines)
        for cell in self.cells:
            if cell.title is None:
                if not cell.ok:
                    lines.append(f"  FAIL  cell {cell.cell} (not a check cell)")
                    lines.extend(f"          {detail}" for detail in cell.explain())
                continue
            named = cell.checks()
            if not named:
                lines.append(f"  {'PASS' if cell.ok else 'FAIL'}  {cell.title}")
                lines.extend(f"          {detail}" for detail in cell.explain())
                continue
            lines.append(f"  {cell.title}:")
            # Checks the cell never reported all fail for the cell's one reason (it raised,
            # or printed something else): say it once, under the list, not once per check.
            shared = cell.cell_reason() if not cell.ok else None
            unreported = False
            for name, passed, why in named:
                lines.append(f"    {'PASS' if passed else 'FAIL'}  {name}")
                if not passed and why == shared:
                    unreported = True
                elif not passed:
                    lines.append(f"            {why}")
            if unreported:
                lines.append(
                    "          no verdict line for these checks; what the cell did instead:"
                )
                lines.extend(f"            {detail}" for detail in cell.explain())
            elif not cell.ok and all(passed for _, passed, _ in named):
                lines.extend(f"          {detail}" for detail in cell.explain())
        checks = self.check_lines()
        failed = [name for name, passed, _ in checks if not passed]
        if self.tampered:
            lines.append(
                f"  {self.tampered} check cell(s) or their expected output differ from the "
                "released notebook: copy them back unchanged from the notebook you were given"
            )
        if self.self_grading:
            lines.append(
                "  your cells must not stand in for a check (the check cells import and run "
                "the real harness); remove:"
            )
            lines.extend(f"    {finding}" for finding in self.self_grading)
        if self.passed:
            lines.append(f"RESULT: PASS -- all {len(checks)} checks passed")
        else:
            other = sum(1 for cell in self.cells if cell.title is None and not cell.ok)
            summary = f"{len(failed)} of {len(checks)} checks failed"
            if self.tampered:
                summary += f", {self.tampered} check cell(s) edited"
            if self.self_grading:
                summary += f", {len(self.self_grading)} place(s) standing in for a check"
            if other:
                summary += f", and {other} other cell{'s' if other > 1 else ''} failed"
            lines.append(f"RESULT: FAIL -- {summary}")
        return "\n".join(lines)


class NotGradable(RuntimeError):
    """The notebook cannot be checked here (the environment, not the learner's code)."""


# What a check needs in the Python that runs it: the course's own package (in the notebook's
# folder, not only the project root), nbval and a kernel.
_NEEDED = "import distlab.assignments.nbval_report, msgpack, nbval, ipykernel"


def _require_course_environment(folder: Path) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _NEEDED], cwd=folder, capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise NotGradable(
            f"this Python ({sys.executable}) cannot run the course's checks: {last}. "
            "Nothing was graded. Set the course up once with `python3 dev.py course`, then "
            "check with its interpreter: `.venv/bin/python -m distlab.assignments check "
            "NOTEBOOK` (on Windows: .venv\\Scripts\\python)."
        )


def check_notebook(
    notebook: str | Path,
    *,
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    sanitize_file: str | Path | None = None,
) -> CheckReport:
    """Run nbval on ``notebook`` in a fresh kernel and return the explained result."""
    notebook = Path(notebook).resolve()
    if not notebook.is_file():
        raise FileNotFoundError(f"no notebook at {notebook}")
    _require_course_environment(notebook.parent)
    with tempfile.TemporaryDirectory(prefix="distlab-check-") as scratch:
        scratch_dir = Path(scratch)
        ini = scratch_dir / "pytest.ini"
        ini.write_text("[pytest]\n", encoding="utf-8")  # shields us from the project's addopts
        if sanitize_file is None:
            sanitize_file = project_sanitize_file()
        if sanitize_file is None:
            sanitize_file = scratch_dir / "sanitize.cfg"
            sanitize_file.write_text(SANITIZE_RULES, encoding="utf-8")
        report_path = scratch_dir / "report.json"
        command = [
            sys.executable,
            "-m",
            "pytest",
            str(notebook),
            "-c",
            str(ini),
            "--rootdir",
            str(notebook.parent),
            "-p",
            "no:cacheprovider",
            "-p",
            "distlab.assignments.nbval_report",
            "--nbval",
            f"--nbval-cell-timeout={int(cell_timeout_s)}",
            f"--nbval-sanitize-with={sanitize_file}",
            "--color=no",
            "-q",
        ]
        env = {**os.environ, REPORT_ENV: str(report_path)}
        completed = subprocess.run(
            command, cwd=notebook.parent, env=env, capture_output=True, text=True, check=False
        )
        cells: list[CellResult] = []
        if report_path.exists():
            data = json.loads(report_path.read_text(encoding="utf-8"))
            cells = [
                CellResult(
                    cell=record["cell"],
                    title=check_title(record["source"]),
                    outcome=record["outcome"],
                    reason=record["reason"],
                    expected=record["expected"],
                    got=record["got"],
                    error=record["error"],
                )
                for record in data["cells"]
            ]
    output = completed.stdout + completed.stderr
    data = json.loads(notebook.read_text(encoding="utf-8"))
    return CheckReport(
        notebook, completed.returncode, cells, output, _tampered(notebook), find_tampering(data)
    )


def _tampered(notebook: Path) -> int:
    """How many check cells recorded at release time are missing or changed now."""
    from distlab.assignments.release import check_digests

    data = json.loads(notebook.read_text(encoding="utf-8"))
    recorded = data.get("metadata", {}).get("distlab", {}).get("checks")
    if not recorded:
        return 0  # an instructor notebook, or one released before fingerprints existed
    present = check_digests(data)
    return sum(1 for digest in recorded if digest not in present)
