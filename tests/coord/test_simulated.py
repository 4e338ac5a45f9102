"""The coordination service in the seeded simulator: ZooKeeper's guarantees under faults.

Every run is replayable: a failing seed prints, and ``pytest --seed N`` runs just that one.
"""

from __future__ import annotations

import pytest

from distlab.coord.experiments import (
    ephemeral_after_expiry,
    fencing,
    herd,
    locks_under_crashes,
    stale_read,
    workload_under_faults,
)
from distlab.coord.simulated import ForgetsClientOrder

QUICK_SEEDS = range(6)
SWEEP_SEEDS = range(300)


def seeds(seed_override, default):
    return [seed_override] if seed_override is not None else list(default)


def assert_guarantees(seed: int) -> None:
    result = workload_under_faults(seed)
    context = f"seed {seed} (replay: pytest --seed {seed}); faults {result.faults}"
    assert result.verdict.ok, f"{result.verdict.problems}; {context}"
    assert result.acknowledged_writes_lost == 0, context
    assert result.ephemerals_left_by_expired_sessions == 0, context
    assert result.operations > 100, context


def test_writes_linearizable_fifo_order_nothing_lost_under_faults(seed_override) -> None:
    for seed in seeds(seed_override, QUICK_SEEDS):
        assert_guarantees(seed)


@pytest.mark.slow
def test_the_long_sweep(seed_override) -> None:
    for seed in seeds(seed_override, SWEEP_SEEDS):
        assert_guarantees(seed)


def test_the_faults_happen_and_some_reads_are_stale() -> None:
    results = [workload_under_faults(seed) for seed in QUICK_SEEDS]
    assert sum(len(r.faults) for r in results) >= 12
    assert sum(r.verdict.stale_reads for r in results) > 0  # allowed, and it does happen


def test_a_client_that_forgets_fifo_order_is_caught() -> None:
    caught = [
        seed
        for seed in QUICK_SEEDS
        if not workload_under_faults(seed, client_cls=ForgetsClientOrder).verdict.fifo_client_order
    ]
    assert len(caught) >= 3, caught


def test_a_stale_read_and_sync() -> None:
    result = stale_read(seed=1)
    assert (result.before, result.stale, result.after_sync) == ("v1", "v1", "v2")
    assert result.zookeeper_guarantees and not result.linearizable


def test_ephemeral_znodes_go_with_the_session_and_only_then() -> None:
    assert ephemeral_after_expiry(seed=0) == (True, True)


@pytest.mark.parametrize("clients", [10, 20])
def test_the_herd_effect_counted(clients: int) -> None:
    herd_free, naive = herd("herd-free", clients), herd("naive", clients)
    assert herd_free.most_holders_at_once == naive.most_holders_at_once == 1
    assert herd_free.notifications == clients - 1  # one per release: O(n)
    assert naive.notifications >= clients * (clients - 1) // 2  # everyone, each time: O(n²)


def test_the_lock_keeps_mutual_exclusion_while_servers_crash(seed_override) -> None:
    for seed in seeds(seed_override, range(3)):
        assert locks_under_crashes(seed) == [], f"seed {seed}"


def test_fencing_tokens_stop_a_paused_holder() -> None:
    unfenced, fenced = fencing(check_tokens=False), fencing(check_tokens=True)
    assert unfenced.problems and unfenced.final_value == "written by A"
    assert not fenced.problems and fenced.final_value == "written by B"
    assert fenced.writes[-1].endswith("refused")


def test_same_seed_same_run() -> None:
    assert workload_under_faults(3) == workload_under_faults(3)


@pytest.mark.slow
def test_the_lock_under_crashes_long_sweep(seed_override) -> None:
    for seed in seeds(seed_override, range(100)):
        assert locks_under_crashes(seed) == [], f"seed {seed} (replay: pytest --seed {seed})"
