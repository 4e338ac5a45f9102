"""Fixtures for the Raft tests: seeds that `pytest --seed N` can override, and node factories.

Every test that takes a ``seed`` argument runs once per seed in SCENARIO_SEEDS
(test ids show ``seed=N``); ``pytest tests/raft --seed N`` runs each of them for N only.
"""

from __future__ import annotations

import random

import pytest

from distlab.raft import PersistedState, RaftConfig, RaftNode

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


@pytest.fixture
def make_node():
    """Build a RaftNode with a seeded rng and the default timeouts (10-20 ticks, heartbeat 3)."""

    def factory(
        node_id: str = "n1",
        peers: tuple[str, ...] = ("n2", "n3"),
        *,
        persisted: PersistedState | None = None,
        config: RaftConfig | None = None,
    ) -> RaftNode:
        return RaftNode(
            node_id, list(peers), rng=random.Random(0), config=config, persisted=persisted
        )

    return factory
