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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

DETAIL_CHARS = 240
"""Failure details longer than this are cut (at a word boundary, ending in "…"), so a
verdict stays readable; the harnesses put what matters (the seed, how to replay it)
first."""


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


def shorten(text: str, limit: int = DETAIL_CHARS) -> str:
    """``text`` if it fits in ``limit`` characters, else cut after its last whole word that
    fits, with "…" (a word longer than the limit is cut; nothing is ever cut mid-word
    otherwise)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:  # a word boundary not too far back
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


class ReplayableFailure(AssertionError):
    """A seeded check failed; ``replay`` is the call that replays it in the notebook.

    The simulator's own messages end in a hint for the course's developers ("replay with
    pytest ... --seed 5"), which means nothing to a learner in a notebook: it is dropped,
    and the notebook call (e.g. ``scenarios.initial_election(5, MyRaft)``) goes first, so
    a cut detail still says how to replay it.
    """

    def __init__(self, replay: str, cause: BaseException) -> None:
        self.replay = replay
        lines = str(cause).strip().splitlines()
        message = _PYTEST_HINT.sub("", lines[0]) if lines else ""
        self.reason = type(cause).__name__ + (f": {message}" if message else "")
        super().__init__(f"replay here: {replay}. {self.reason}")


_PYTEST_HINT = re.compile(r";?\s*replay with pytest[^\]]*")


def replaying(replay: str, check: Callable[[], object]) -> None:
    """Run one seeded ``check``; if it fails, raise `ReplayableFailure` naming ``replay``."""
    try:
        check()
    except AssertionError as failure:  # SimulationFailure and SafetyViolation are ones too
        raise ReplayableFailure(replay, failure) from failure


def call_text(function: str, *args: object, **kwargs: object) -> str:
    """``scenarios.figure8(1, MyRaft, iterations=150)``: a call a learner can paste.

    Classes are shown by name (the learner's own class, defined in the notebook)."""
    shown = [arg.__name__ if isinstance(arg, type) else repr(arg) for arg in args]
    shown += [f"{name}={value!r}" for name, value in kwargs.items()]
    return f"{function}({', '.join(shown)})"


def describe_failure(error: Exception) -> str:
    """``Type: first line of the message``, shortened to `DETAIL_CHARS` (see `shorten`)."""
    message = str(error).strip().splitlines()
    if isinstance(error, ReplayableFailure):
        return shorten(str(error))
    return shorten(type(error).__name__ + (f": {message[0]}" if message else ""))


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
