"""Suite-wide rules: seeded randomness, replayable seeds, and no leftover processes.

Every test that starts processes must clean them up; the autouse fixture below
fails a test that leaves a child process of the test runner alive (after a
grace period, because a killed process needs a moment to be reaped).
"""

from __future__ import annotations

import contextlib
import os
import time

import psutil
import pytest
from hypothesis import HealthCheck, settings

# Property tests explore with a fixed seed in CI so a red run can be replayed;
# locally `--hypothesis-profile=explore` searches fresh examples each run.
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Processes the test runner may legitimately keep between tests.
_ALLOWED_CHILD_MARKERS = ("resource_tracker", "forkserver", "ipykernel_launcher")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--seed",
        type=int,
        default=None,
        help="replay one seed in seeded simulation tests (printed by a failing test)",
    )


@pytest.fixture
def seed_override(request: pytest.FixtureRequest) -> int | None:
    """The seed given with ``pytest --seed N``, or None."""
    return request.config.getoption("--seed")


def _unexpected_children() -> list[psutil.Process]:
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                continue
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if not any(marker in cmdline for marker in _ALLOWED_CHILD_MARKERS):
            found.append(child)
    return found


@pytest.fixture(autouse=True)
def no_leftover_processes(request: pytest.FixtureRequest):
    """Fail any Python test that leaves a child process running."""
    yield
    if request.node.get_closest_marker("allow_leftover_processes"):
        return
    deadline = time.monotonic() + 10.0
    leftovers = _unexpected_children()
    while leftovers and time.monotonic() < deadline:
        time.sleep(0.1)
        leftovers = _unexpected_children()
    if leftovers:
        described = [f"pid {p.pid}: {' '.join(p.cmdline())[:120]}" for p in leftovers]
        for process in leftovers:
            with contextlib.suppress(psutil.Error):
                process.kill()
        pytest.fail("test left child processes running:\n" + "\n".join(described))
