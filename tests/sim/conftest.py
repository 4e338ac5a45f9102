"""Seeds for the simulator tests: each ``seed`` test runs for SCENARIO_SEEDS, or ``--seed N``."""

from __future__ import annotations

import pytest

SCENARIO_SEEDS = (1, 2, 3, 4, 5)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "seed" in metafunc.fixturenames:
        replay = metafunc.config.getoption("--seed") is not None
        params = [0] if replay else list(SCENARIO_SEEDS)
        ids = ["seed=replay"] if replay else [f"seed={s}" for s in params]
        metafunc.parametrize("seed", params, ids=ids, indirect=True)


@pytest.fixture
def seed(request: pytest.FixtureRequest, seed_override: int | None) -> int:
    """The seed of one scenario run: ``--seed N`` replays N, otherwise one of SCENARIO_SEEDS."""
    return request.param if seed_override is None else seed_override
