"""Frangipani in the seeded simulator: two or three workstations, seeded crashes, the checker's
verdict, named invariants -- and mutants that break one rule each, caught by name."""

from __future__ import annotations

import pytest

from distlab.frangipani import (
    ForgetsToReplay,
    ReplaysOldEntries,
    SkipsTheLog,
    run_workload,
)
from distlab.sim.failures import SafetyViolation


@pytest.mark.parametrize("workstations", [2, 3])
def test_seeded_crashes_keep_every_file_linearizable(workstations: int) -> None:
    lost = recoveries = 0
    for seed in range(25):
        run = run_workload(seed, workstations=workstations, crashes=2, ops_per_ws=30)
        assert run.verdict == "ok", f"seed {seed}"
        assert run.synced_lost == 0  # acknowledged before a completed sync: never lost
        assert run.broken == []
        lost += run.lost
        recoveries += run.recoveries
    assert recoveries > 0  # the crashes did cost recoveries ...
    assert lost > 0  # ... and unsynced writes, which the history marks indefinite


def test_one_seed_is_one_run() -> None:
    first, second = run_workload(7), run_workload(7)
    assert first.history.events() == second.history.events()
    assert first.messages == second.messages


def test_no_write_back_on_revoke_gives_stale_reads_the_checker_reports() -> None:
    verdicts = {
        run_workload(seed, write_back_on_revoke=False, crashes=0).verdict for seed in range(5)
    }
    assert verdicts == {"violation"}


@pytest.mark.parametrize(
    ("mutant", "rule"),
    [
        ({"service_cls": ForgetsToReplay}, "Replay before release"),
        ({"service_cls": ReplaysOldEntries}, "Versions never go back"),
        ({"workstation_cls": SkipsTheLog}, "Log before blocks"),
    ],
)
def test_mutants_are_caught_by_name(mutant: dict, rule: str) -> None:
    caught = set()
    for seed in range(12):
        try:
            run_workload(seed, crashes=2, **mutant)
        except SafetyViolation as violation:
            caught.add(violation.property_name)
    assert rule in caught


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="workstations"):
        run_workload(0, workstations=9)


@pytest.mark.slow
def test_long_sweep() -> None:
    for seed in range(300):
        for workstations in (2, 3):
            run = run_workload(seed, workstations=workstations, crashes=3, ops_per_ws=50)
            assert run.verdict == "ok" and run.synced_lost == 0, f"seed {seed}"
