"""Seed sweeps: many randomized fault schedules, each checked for safety after every event.

A failure names its seed; ``pytest tests/raft/test_sweep.py --seed N`` replays exactly it.
The small sweep runs by default; the long one is marked ``slow``.
"""

from __future__ import annotations

import pytest

from distlab.sim import run_random_schedule

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
    sweep(SLOW_SWEEP, seed_override, nodes=nodes, ticks=400, fault_rate=0.05)
