"""Seeds for the simulator tests: each ``seed`` test runs for SCENARIO_SEEDS, or ``--seed N``."""

from __future__ import annotations

from tests.raft.seeding import pytest_generate_tests, seed

__all__ = ["pytest_generate_tests", "seed"]
