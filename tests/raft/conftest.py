"""Fixtures for the Raft tests: seeds that `pytest --seed N` can override, and node factories.

Every test that takes a ``seed`` argument runs once per seed in SCENARIO_SEEDS
(test ids show ``seed=N``); ``pytest tests/raft --seed N`` runs each of them for N only.
The seeding itself lives in tests/raft/seeding.py, shared with tests/sim.
"""

from __future__ import annotations

import random

import pytest

from distlab.raft import PersistedState, RaftConfig, RaftNode
from tests.raft.seeding import pytest_generate_tests, seed

__all__ = ["make_node", "pytest_generate_tests", "seed"]


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
