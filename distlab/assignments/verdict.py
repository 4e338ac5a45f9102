"""Verdicts: the short, deterministic text a check cell prints (what nbval compares).

What it is: `run_checks(title, checks)` runs named check functions one after the
other, turns each outcome into a `CheckResult` (an exception becomes a FAIL line
naming its type and the first line of its message) and returns a `Verdict` whose
text is one line per check plus a count. A notebook displays the Verdict; the
stored output of the instructor's run is the expected verdict.

What it must never do: print timings, ports, object addresses or anything else
that varies between correct runs; a correct solution must print exactly the
same lines on every machine. It never swallows `BaseException` (KeyboardInterrupt
from a cell timeout must stop the cell).
Where it fits: every assignment harness in `distlab.assignments` returns a Verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

DETAIL_CHARS = 150
"""Failure details are cut to this many characters, so a verdict stays readable."""


@dataclass(frozen=True)
class CheckResult:
    """One named check: passed or not, and why not (one line)."""

    name: str
    passed: bool
    detail: str = ""

    def line(self) -> str:
        """``PASS  name`` or ``FAIL  name -- detail``."""
        if self.passed:
            return f"PASS  {self.name}"
        return f"FAIL  {self.name} -- {self.detail}"


@dataclass(frozen=True)
class Verdict:
    """The outcome of one check cell: a title and one result per check."""

    title: str
    results: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        """True if every check passed."""
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> list[str]:
        """Names of the checks that failed."""
        return [result.name for result in self.results if not result.passed]

    def text(self) -> str:
        """The verdict as printed: title, one line per check, and the count."""
        passed = sum(result.passed for result in self.results)
        lines = [self.title, *(result.line() for result in self.results)]
        lines.append(f"{passed}/{len(self.results)} checks passed")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        return self.text()


def describe_failure(error: Exception) -> str:
    """``Type: first line of the message``, cut to `DETAIL_CHARS`."""
    message = str(error).strip().splitlines()
    text = type(error).__name__ + (f": {message[0]}" if message else "")
    if len(text) > DETAIL_CHARS:
        text = text[: DETAIL_CHARS - 3] + "..."
    return text


def run_checks(title: str, checks: Iterable[tuple[str, Callable[[], object]]]) -> Verdict:
    """Run each ``(name, check)``; a check passes if it returns without raising.

    A check that raises any `Exception` (an `AssertionError` from the harness, a
    `SimulationFailure` naming a seed, or the learner's own `NotImplementedError`)
    fails with a one-line reason; the remaining checks still run.
    """
    results = []
    for name, check in checks:
        try:
            check()
        except Exception as error:  # the learner's code may raise anything
            results.append(CheckResult(name, False, describe_failure(error)))
        else:
            results.append(CheckResult(name, True))
    return Verdict(title, tuple(results))
