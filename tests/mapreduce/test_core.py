"""The coordinator's rules, driven by hand: time is a number we pass in."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distlab.mapreduce.core import Coordinator, Exit, MapTask, ReduceTask, TaskState, Wait


def make(maps: int = 3, n_reduce: int = 2, timeout: float = 10.0, **kw) -> Coordinator:
    return Coordinator([f"in-{i}.txt" for i in range(maps)], n_reduce, task_timeout_s=timeout, **kw)


def finish_maps(c: Coordinator, now: float = 0.0) -> None:
    while not c.maps_done:
        task = c.request_task("w0", now)
        assert isinstance(task, MapTask)
        c.report_done("w0", "map", task.task_id, task.attempt, now)


def test_each_map_task_is_handed_out_once_with_its_input():
    c = make(maps=3, n_reduce=4)
    tasks = [c.request_task(f"w{i}", 0.0) for i in range(3)]
    assert [t.task_id for t in tasks] == [0, 1, 2]
    assert [t.input_path for t in tasks] == ["in-0.txt", "in-1.txt", "in-2.txt"]
    assert all(isinstance(t, MapTask) and t.n_reduce == 4 and t.attempt == 1 for t in tasks)
    assert c.request_task("w3", 1.0) == Wait()  # all in progress, none timed out


def test_no_reduce_is_handed_out_while_a_map_is_unfinished():
    c = make(maps=2, n_reduce=2)
    first = c.request_task("w0", 0.0)
    c.request_task("w1", 0.0)
    c.report_done("w0", "map", first.task_id, first.attempt, 1.0)
    assert c.phase == "map"
    assert c.request_task("w0", 2.0) == Wait()  # map 1 still running: reduces must wait
    c.report_done("w1", "map", 1, 1, 3.0)
    assert c.phase == "reduce"
    reduce = c.request_task("w0", 4.0)
    assert isinstance(reduce, ReduceTask)
    assert (reduce.task_id, reduce.n_map) == (0, 2)


def test_a_task_running_longer_than_the_timeout_goes_to_another_worker():
    c = make(maps=1, timeout=10.0)
    task = c.request_task("w0", 0.0)
    assert c.request_task("w1", 10.0) == Wait()  # exactly the timeout: not yet
    again = c.request_task("w1", 10.5)
    assert isinstance(again, MapTask)
    assert (again.task_id, again.attempt) == (task.task_id, 2)
    assert c.statistics().failed == 1
    assert c.statistics().reassigned == 1
    assert [e.what for e in c.take_ready().outputs] == ["assigned", "timeout", "assigned"]


def test_the_first_report_wins_and_a_late_duplicate_is_ignored():
    c = make(maps=1, timeout=1.0)
    c.request_task("w0", 0.0)
    c.request_task("w1", 5.0)  # w0 timed out; w1 got attempt 2
    assert c.report_done("w0", "map", 0, 1, 6.0) is True  # the slow first attempt finishes
    assert c.report_done("w1", "map", 0, 2, 7.0) is False
    stats = c.statistics()
    assert (stats.maps_done, stats.late_reports) == (1, 1)


def test_the_job_is_done_when_every_reduce_is_done_and_workers_are_told_to_exit():
    c = make(maps=2, n_reduce=2)
    finish_maps(c)
    for _ in range(2):
        task = c.request_task("w0", 1.0)
        assert not c.done
        c.report_done("w0", "reduce", task.task_id, task.attempt, 2.0)
    assert c.done and c.phase == "done"
    assert c.request_task("w1", 3.0) == Exit()
    stats = c.statistics()
    assert (stats.done, stats.total, stats.running, stats.failed) == (4, 4, 0, 0)


def test_statistics_count_running_and_done_per_phase():
    c = make(maps=3, n_reduce=2)
    c.request_task("w0", 0.0)
    c.request_task("w1", 0.0)
    c.report_done("w0", "map", 0, 1, 1.0)
    stats = c.statistics()
    assert (stats.phase, stats.maps_done, stats.maps_running) == ("map", 1, 1)
    assert (stats.reduces_done, stats.reduces_running, stats.workers_seen) == (0, 0, 2)


def test_a_lost_worker_gives_back_only_its_own_task_at_once():
    c = make(maps=2)
    c.request_task("w0", 0.0)
    c.request_task("w1", 0.0)
    assert c.worker_lost("w1", 0.5) == [("map", 1)]
    assert c.task_states("map") == [TaskState.IN_PROGRESS, TaskState.IDLE]
    task = c.request_task("w2", 0.6)
    assert (task.task_id, task.attempt) == (1, 2)


def test_a_task_that_keeps_raising_fails_the_job_with_its_error():
    c = make(maps=1, max_task_failures=2)
    for attempt in (1, 2):
        task = c.request_task("w0", float(attempt))
        assert isinstance(task, MapTask) and task.attempt == attempt
        c.report_failed("w0", "map", 0, attempt, float(attempt), "ZeroDivisionError: boom")
    assert c.phase == "failed"
    assert "map task 0 raised 2 times" in c.error and "boom" in c.error
    assert c.request_task("w0", 9.0) == Exit()


def test_misuse_names_the_mistake():
    with pytest.raises(ValueError, match="at least one input"):
        Coordinator([], 2)
    with pytest.raises(ValueError, match="n_reduce"):
        Coordinator(["a"], 0)
    c = make(maps=1)
    with pytest.raises(ValueError, match="no map task 5"):
        c.report_done("w0", "map", 5, 1, 0.0)
    with pytest.raises(ValueError, match="'map' or 'reduce'"):
        c.report_done("w0", "shuffle", 0, 1, 0.0)


@given(seed=st.integers(0, 10_000), maps=st.integers(1, 5), n_reduce=st.integers(1, 4))
def test_any_schedule_of_reports_losses_and_timeouts_finishes_every_task(seed, maps, n_reduce):
    """Invariants under a random (seeded) schedule: no reduce before all maps; it terminates."""
    rng = random.Random(seed)
    c = make(maps=maps, n_reduce=n_reduce, timeout=5.0)
    now, held = 0.0, {}  # worker -> task
    for _ in range(2_000):
        if c.done:
            break
        now += rng.choice([0.1, 1.0, 6.0])
        worker = f"w{rng.randrange(3)}"
        action = rng.random()
        if action < 0.5 and worker not in held:
            task = c.request_task(worker, now)
            if isinstance(task, ReduceTask):
                assert c.maps_done, "a reduce was handed out before every map was done"
            if isinstance(task, MapTask | ReduceTask):
                held[worker] = task
        elif action < 0.85 and worker in held:
            task = held.pop(worker)
            c.report_done(worker, task.kind, task.task_id, task.attempt, now)
        elif worker in held:
            held.pop(worker)
            c.worker_lost(worker, now)
        stats = c.statistics()
        assert stats.running <= 3  # one attempt per worker at most
        assert stats.done <= stats.total
    assert c.done, f"seed {seed}: job not done after 2000 steps"
    assert c.request_task("w9", now) == Exit()
