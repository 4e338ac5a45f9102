"""Replayable seeds for the simulator tests, shared by tests/raft and tests/sim.

Every test that takes a ``seed`` argument runs once per seed in SCENARIO_SEEDS
(test ids show ``seed=N``); ``pytest tests/raft --seed N`` runs each of them for N only.
A conftest opts in by importing `pytest_generate_tests` and the `seed` fixture; this
module is not a conftest itself, so folders that parametrize their own ``seed`` stay
untouched. It must never pick seeds at random: a red run has to be replayable.
"""

from __future__ import annotations

import pytest

SCENARIO_SEEDS = (1, 2, 3, 4, 5)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test taking ``seed`` for every SCENARIO_SEEDS, or once for ``--seed N``."""
    if "seed" in metafunc.fixturenames:
        replay = metafunc.config.getoption("--seed") is not None
        params = [0] if replay else list(SCENARIO_SEEDS)
        ids = ["seed=replay"] if replay else [f"seed={s}" for s in params]
        metafunc.parametrize("seed", params, ids=ids, indirect=True)


@pytest.fixture
def seed(request: pytest.FixtureRequest, seed_override: int | None) -> int:
    """The seed of one scenario run: ``--seed N`` replays N, otherwise one of SCENARIO_SEEDS."""
    return request.param if seed_override is None else seed_override
