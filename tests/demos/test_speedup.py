from __future__ import annotations

import itertools

import pytest

from distlab.demos.speedup import (
    SpeedupReport,
    SpeedupRun,
    count_primes,
    measure_speedup,
    split_range,
)


def test_count_primes_matches_known_values():
    assert count_primes((0, 10)) == 4  # 2 3 5 7
    assert count_primes((0, 100)) == 25
    assert count_primes((10, 20)) == 4  # 11 13 17 19


def test_split_range_covers_everything_once():
    parts = split_range(1003, 4)
    assert parts[0][0] == 0 and parts[-1][1] == 1003
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))
    assert sum(count_primes(p) for p in parts) == count_primes((0, 1003))


def test_split_range_rejects_zero_parts():
    with pytest.raises(ValueError, match="at least 1"):
        split_range(10, 0)


def test_report_speedup_is_baseline_over_time():
    report = SpeedupReport(
        runs=(SpeedupRun(1, 2.0, 7), SpeedupRun(2, 1.25, 7)), cpu_count=2, tasks=4
    )
    assert report.speedup(2) == pytest.approx(1.6)
    assert report.answers_agree
    assert "1.60x" in report.table()


def test_parallel_runs_compute_the_sequential_answer():
    report = measure_speedup((1, 2), high=20_000, tasks=4, repeats=1)
    assert [run.workers for run in report.runs] == [1, 2]
    assert report.answers_agree
    assert report.baseline.answer == count_primes((0, 20_000))


def test_measure_speedup_needs_a_baseline():
    with pytest.raises(ValueError, match="baseline"):
        measure_speedup((2, 3))
