"""GFS under seeded faults: the lease, stale-replica and durability rules hold on every
schedule, and mutants that break one rule are caught by the check named after it."""

from __future__ import annotations

import pytest

from distlab.gfs import (
    GrantsBeforeLeaseExpires,
    HandsOutStaleReplicas,
    run_gfs_simulation,
)
from distlab.sim import SafetyViolation


def sweep(seeds: range) -> list:
    return [run_gfs_simulation(seed) for seed in seeds]


def test_150_seeded_schedules_keep_every_rule_and_are_not_vacuous(
    seed_override: int | None,
) -> None:
    seeds = range(seed_override, seed_override + 1) if seed_override is not None else range(150)
    runs = sweep(seeds)
    if seed_override is not None:
        return
    assert all(run.acked == 36 for run in runs)  # every client finished all its appends
    assert sum(run.crashes for run in runs) > 1000  # ... through many crashes
    assert sum(run.duplicates > 0 for run in runs) > 20  # retries left duplicates behind
    assert sum(run.pads > 0 for run in runs) > 100  # records that did not fit padded chunks
    assert sum(run.stale_found for run in runs) > 50  # replicas came back stale
    assert sum(run.copies for run in runs) > 50  # and lost replicas were re-replicated


@pytest.mark.slow
def test_1500_seeded_schedules_keep_every_rule() -> None:
    sweep(range(150, 1650))


@pytest.mark.parametrize(
    ("mutant", "rule"),
    [
        (GrantsBeforeLeaseExpires, "One Primary Per Chunk"),
        (HandsOutStaleReplicas, "No Stale Replica Served"),
    ],
)
def test_a_master_that_breaks_a_rule_is_caught_by_that_rule(mutant: type, rule: str) -> None:
    caught = []
    for seed in range(10):
        try:
            run_gfs_simulation(seed, master_cls=mutant)
        except SafetyViolation as violation:
            assert rule in str(violation) and f"seed={seed}" in str(violation)
            caught.append(seed)
    assert len(caught) >= 8, f"{mutant.__name__} slipped through on most seeds: {caught}"


def test_the_same_seed_gives_the_same_run() -> None:
    assert run_gfs_simulation(7) == run_gfs_simulation(7)
