"""The chapter-02 race demos fail without locks and pass with them, every time."""

from __future__ import annotations

from distlab.demos.races import (
    bank_transfers,
    lost_updates_sweep,
    opposite_order_transfers,
    race_counter,
)
from distlab.sync import PotentialDeadlock, lock_order_checking_enabled
from distlab.viz.races import plot_lost_updates


def test_unlocked_counter_loses_updates():
    for _ in range(3):  # reliably, not once in a while
        result = race_counter(threads=6, increments=200, lock=False)
        assert result.expected == 1200
        assert result.lost_updates > 0


def test_mutex_counter_loses_nothing_and_saw_contention():
    result = race_counter(threads=6, increments=200, lock=True)
    assert result.actual == result.expected == 1200
    assert result.lost_updates == 0
    stats = result.mutex_statistics
    assert stats is not None and stats.acquisitions == 1200
    assert stats.contended_acquisitions > 0


def test_one_thread_cannot_race_with_itself():
    assert race_counter(threads=1, increments=300, lock=False).lost_updates == 0


def test_sweep_pairs_unlocked_and_locked_runs():
    sweep = lost_updates_sweep((1, 4), increments=100)
    assert [(u.threads, u.locked, m.locked) for u, m in sweep] == [
        (1, False, True),
        (4, False, True),
    ]
    assert sweep[1][0].lost_updates > 0 and sweep[1][1].lost_updates == 0
    figure = plot_lost_updates(
        [u.threads for u, _ in sweep],
        [u.lost_updates for u, _ in sweep],
        [m.lost_updates for _, m in sweep],
        expected=[u.expected for u, _ in sweep],
    )
    assert len(figure.axes[0].containers) == 2  # the two bar series


def test_bank_without_locks_breaks_the_invariant():
    result = bank_transfers(threads=4, transfers_per_thread=200, lock=False, seed=1)
    assert result.expected_total == 4000
    assert not result.conserved


def test_bank_with_locks_conserves_money():
    for seed in range(3):
        result = bank_transfers(threads=4, transfers_per_thread=200, lock=True, seed=seed)
        assert result.conserved, result


def test_opposite_orders_deadlock_without_checking():
    outcome = opposite_order_transfers(checking=False, timeout=0.2)
    assert outcome.deadlocked and not outcome.caught
    assert outcome.timeouts >= 1


def test_opposite_orders_are_caught_with_checking():
    outcome = opposite_order_transfers(checking=True, timeout=5.0)
    assert outcome.caught and not outcome.deadlocked
    assert isinstance(outcome.error, PotentialDeadlock)
    assert outcome.lock_names == ("account A", "account B")
    assert not lock_order_checking_enabled()  # the demo switched it off again
