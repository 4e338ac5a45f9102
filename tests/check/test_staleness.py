"""Weak-consistency measures on hand-made and generated histories."""

from __future__ import annotations

import pytest

from distlab.check import (
    History,
    ReplicaSnapshot,
    check_linearizable,
    convergence_time,
    measure_staleness,
    op,
)
from distlab.check.generate import inject_stale_reads, simulate


def test_a_linearizable_history_has_no_stale_reads_and_no_session_violations():
    history = simulate(2, clients=5, operations=3000, keys=3, indefinite_fraction=0.1)
    assert check_linearizable(history).verdict == "ok"
    report = measure_staleness(history)
    assert report.reads > 1000
    assert report.stale_reads == 0 and report.stale_rate == 0.0
    assert report.unmatched_reads == 0
    assert report.read_your_writes_violations == {} and report.monotonic_read_violations == {}


def test_staleness_in_versions_and_time():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(1, "put", "x", "2", start=11, end=20),
            op(1, "put", "x", "3", start=21, end=30),
            op(2, "get", "x", output="1", start=50, end=55),  # missed 2 and 3: stale since 20
            op(2, "get", "x", output="3", start=60, end=65),  # fresh
            op(3, "put", "x", "4", start=40, end=70),  # concurrent with both reads: not required
        ]
    )
    report = measure_staleness(history)
    assert (report.reads, report.stale_reads) == (2, 1)
    assert report.stale_rate == pytest.approx(0.5)
    stale = report.examples[0]
    assert stale.op.output == "1" and stale.writer.value == "1"
    assert stale.staleness_versions == 2
    assert stale.staleness_time == 50 - 20


def test_concurrent_writes_are_not_counted_as_stale():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "put", "x", "2", start=5, end=8),  # completes first, but overlaps put 1
            op(3, "get", "x", output="2", start=20, end=25),
        ]
    )
    assert measure_staleness(history).stale_reads == 0


def test_read_your_writes_and_monotonic_reads_are_per_client():
    history = History.from_operations(
        [
            op(1, "put", "x", "a", start=0, end=5),
            op(2, "put", "x", "b", start=10, end=15),
            op(2, "get", "x", output="a", start=20, end=25),  # client 2 misses its own write
            op(1, "get", "x", output="b", start=30, end=35),
            op(1, "get", "x", output="a", start=40, end=45),  # client 1 goes back in time
        ]
    )
    report = measure_staleness(history)
    assert report.read_your_writes_violations == {2: 1}
    assert report.monotonic_read_violations == {1: 1}
    assert report.stale_reads == 2


def test_unmatched_reads_are_counted_apart():
    history = History.from_operations(
        [
            op(1, "put", "x", "a", start=0, end=5, status="fail"),
            op(2, "get", "x", output="a", start=10, end=15),
            op(2, "get", "x", output="?", start=20, end=25),
        ]
    )
    report = measure_staleness(history)
    assert (report.reads, report.unmatched_reads, report.stale_reads) == (2, 2, 0)


def test_appends_are_matched_by_their_suffix():
    history = History.from_operations(
        [
            op(1, "put", "x", "a", start=0, end=5),
            op(1, "append", "x", "b;", start=6, end=8),
            op(1, "append", "x", "c;", start=9, end=12),
            op(2, "get", "x", output="ab;", start=20, end=25),
        ]
    )
    report = measure_staleness(history)
    assert report.stale_reads == 1 and report.examples[0].staleness_versions == 1


def test_injected_stale_reads_are_all_found():
    history = simulate(9, clients=5, operations=2000, keys=3)
    broken = inject_stale_reads(history, count=15, seed=1)
    report = measure_staleness(broken)
    assert report.stale_reads == 15
    assert report.max_staleness_versions >= 1 and report.mean_staleness_time > 0


def test_convergence_time_after_heal():
    snaps = [
        ReplicaSnapshot(0, "a", {"x": "1"}),
        ReplicaSnapshot(0, "b", {"x": "2"}),
        ReplicaSnapshot(100, "a", {"x": "1"}),  # heal at 100
        ReplicaSnapshot(110, "b", {"x": "2"}),
        ReplicaSnapshot(130, "b", {"x": "1"}),
        ReplicaSnapshot(140, "a", {"x": "1"}),
        ReplicaSnapshot(150, "b", {"x": "1"}),
    ]
    assert convergence_time(snaps, heal_time=100) == 30


def test_agreement_before_the_heal_or_a_relapse_does_not_count():
    snaps = [
        ReplicaSnapshot(0, "a", {"x": "1"}),
        ReplicaSnapshot(0, "b", {"x": "1"}),  # agree, but before the heal
        ReplicaSnapshot(100, "a", {"x": "1"}),
        ReplicaSnapshot(105, "b", {"x": "1"}),  # agree at 105 ...
        ReplicaSnapshot(110, "a", {"x": "9"}),  # ... but not for good
        ReplicaSnapshot(120, "b", {"x": "9"}),
    ]
    assert convergence_time(snaps, heal_time=100) == 20
    assert convergence_time(snaps[:5], heal_time=100) is None
    with pytest.raises(ValueError):
        convergence_time([], heal_time=0)
