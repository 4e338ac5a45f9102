"""Seed sweeps: many randomized fault schedules, each checked for safety after every event.

A failure names its seed; ``pytest tests/raft/test_sweep.py --seed N`` replays exactly it.
The small sweeps run in this process; the long one (marked ``slow``) on every core, through
`distlab.sim.sweep` -- the same schedules, sooner.
"""

from __future__ import annotations

import pytest

from distlab.sim import run_random_schedule
from distlab.sim import sweep as sweep_on_every_core

SMALL_SWEEP = range(30)
SLOW_SWEEP = range(1000, 1400)


def sweep(seeds, seed_override, **options):
    chosen = [seed_override] if seed_override is not None else list(seeds)
    results = [run_random_schedule(seed, **options) for seed in chosen]
    # Liveness after the faults stop: every schedule committed its final command.
    assert all(result.committed_index >= 1 for result in results)
    return results


@pytest.mark.parametrize("nodes", [3, 5])
def test_small_sweep_of_random_fault_schedules(seed_override, nodes):
    results = sweep(SMALL_SWEEP, seed_override, nodes=nodes, ticks=300)
    if seed_override is None:
        # The schedules really were hostile: faults happened and leaders changed.
        assert sum(r.faults for r in results) > len(results)
        assert max(r.leaders for r in results) > 1


def test_small_sweep_without_snapshots(seed_override):
    sweep(SMALL_SWEEP, seed_override, nodes=5, ticks=300, snapshot_interval=None)


@pytest.mark.slow
@pytest.mark.parametrize("nodes", [3, 5])
def test_slow_sweep_of_random_fault_schedules(seed_override, nodes):
    if seed_override is not None:
        sweep(SLOW_SWEEP, seed_override, nodes=nodes, ticks=400, fault_rate=0.05)
        return
    report = sweep_on_every_core(SLOW_SWEEP, nodes=nodes, ticks=400, fault_rate=0.05)
    assert report.ok, f"{report}\nreplay one with: pytest {__file__} --seed <seed>"
    assert report.schedules == len(SLOW_SWEEP)
    assert all(result.committed_index >= 1 for result in report.results)
