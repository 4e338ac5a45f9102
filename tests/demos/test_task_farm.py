from __future__ import annotations

import pytest

from distlab.demos.speedup import count_primes, split_range
from distlab.demos.task_farm import run_farm

RANGES = split_range(60_000, 6)
EXPECTED = count_primes((0, 60_000))


def test_farm_without_crash_runs_each_task_once():
    report = run_farm(RANGES, workers=2)
    assert report.answer == EXPECTED
    assert report.killed_workers == [] and report.reassigned_tasks == []
    assert report.runs_per_task == {task: 1 for task in range(len(RANGES))}


def test_killed_worker_task_is_rerun_and_answer_unchanged():
    report = run_farm(RANGES, workers=2, kill_worker=0)  # killed on its first task
    assert report.answer == EXPECTED
    assert report.killed_workers == [0]
    assert len(report.reassigned_tasks) == 1
    rerun = report.reassigned_tasks[0]
    assert report.runs_per_task[rerun] == 2
    assert sum(report.runs_per_task.values()) == len(RANGES) + 1


def test_farm_rejects_killing_the_only_worker():
    with pytest.raises(ValueError, match="only worker"):
        run_farm(RANGES, workers=1, kill_worker=0)
