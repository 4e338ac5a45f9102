"""Real MapReduce jobs: a coordinator on rpc, worker processes, crashes (the 6.824 lab 1 checks).

Each test starts real processes (``cluster`` marker). No test asserts on speed: parallelism is
read from the workers' own task timestamps, and every wait is bounded by the job's timeout.
"""

from __future__ import annotations

import re

import pytest

from distlab.mapreduce import (
    Job,
    KillPlan,
    MapReduceApp,
    MapReduceError,
    corpus_paths,
    crashing_word_count,
    inverted_index,
    run_job,
    run_sequential,
    slow_word_count,
    word_count,
)
from distlab.mapreduce.tasks import TEMP_GLOB

pytestmark = pytest.mark.cluster

INPUTS = [str(p) for p in corpus_paths()]


def expected_files(n_map: int, n_reduce: int) -> set[str]:
    names = {f"mr-{m}-{r}" for m in range(n_map) for r in range(n_reduce)}
    return names | {f"mr-out-{r}" for r in range(n_reduce)}


@pytest.mark.parametrize("app", [word_count, inverted_index], ids=["wc", "index"])
def test_distributed_output_equals_the_sequential_run(tmp_path, app):
    result = run_job(app, INPUTS, n_reduce=3, workers=2, work_dir=tmp_path)
    assert result.output == run_sequential(app, INPUTS)
    assert {p.name for p in tmp_path.iterdir()} == expected_files(len(INPUTS), 3)
    assert result.statistics.phase == "done" and result.statistics.failed == 0


def test_map_and_reduce_tasks_really_run_in_parallel():
    app = slow_word_count(map_delay_s=0.4, reduce_delay_s=0.004)
    result = run_job(app, INPUTS[:4], n_reduce=2, workers=2)
    assert result.output == run_sequential(word_count, INPUTS[:4])
    assert result.overlaps("map"), "no two map tasks ran at the same time"
    assert result.overlaps("reduce"), "no two reduce tasks ran at the same time"
    assert {run.worker_id for run in result.runs} == {"w0", "w1"}


def test_workers_exit_by_themselves_when_the_job_is_done_and_not_before():
    result = run_job(word_count, INPUTS, n_reduce=2, workers=3)
    last_done = max(e.at for e in result.events if e.what == "done")
    assert result.exit_codes == {"w0": 0, "w1": 0, "w2": 0}  # told to exit, not killed
    for worker, exited in result.exited_at.items():
        assert exited is not None and exited >= last_done, f"{worker} left before the end"


def test_a_worker_killed_mid_task_has_its_task_re_executed_by_the_survivor(tmp_path):
    app = slow_word_count(map_delay_s=0.5)
    stray = tmp_path / ".mr-0-1.tmp-999999"  # what a writer killed mid-write leaves behind
    stray.write_bytes(b"half a file")
    with Job(app, INPUTS[:4], n_reduce=2, workers=2, work_dir=tmp_path) as job:
        running = job.wait_for_task_running(30)
        victim = job.kill_worker()
        result = job.wait(120)
    assert victim is not None
    _at, killed, task = result.killed[0]
    assert running and killed == victim and task is not None
    assert task in result.reexecuted()
    assert result.exit_codes[victim] == -9
    assert any(e.what == "lost" and e.worker_id == victim for e in result.events)
    assert result.output == run_sequential(word_count, INPUTS[:4])
    assert not list(tmp_path.glob(TEMP_GLOB)), "temp files of killed writers were not removed"
    assert {p.name for p in tmp_path.iterdir()} == expected_files(4, 2)


@pytest.mark.parametrize("seed", [1, 2])
def test_crashes_and_stalls_never_change_the_output(tmp_path, seed, seed_override):
    """Workers die mid-task (seeded), stall past the timeout, get replaced; output is exact."""
    seed = seed if seed_override is None else seed_override
    markers, work = tmp_path / "markers", tmp_path / "work"
    markers.mkdir()
    app = crashing_word_count(
        markers,
        seed=seed,
        crash_percent=25,
        stall_percent=20,
        stall_s=2.0,
        map_delay_s=0.05,
        reduce_delay_s=0.001,
    )
    result = run_job(
        app,
        INPUTS,
        n_reduce=3,
        workers=3,
        work_dir=work,
        task_timeout_s=1.0,
        restart_workers=True,
        kill_plan=KillPlan(seed, kills=2, delay_s_max=0.04),
        timeout_s=90,
    )
    assert result.output == run_sequential(word_count, INPUTS), f"seed {seed}"
    assert result.reexecuted(), f"seed {seed}: no task was re-executed"
    assert len(result.workers) > 3, "dead workers were replaced"
    assert {p.name for p in work.iterdir()} == expected_files(len(INPUTS), 3)  # no temps
    codes = set(result.exit_codes.values())
    assert -9 in codes or 17 in codes, f"seed {seed}: nothing crashed ({codes})"


def test_functions_defined_in_a_script_travel_to_the_workers():
    vowels = re.compile(r"[aeiou]")  # a global the function needs, pickled along with it

    def vowel_map(filename, contents):
        return [(v, "1") for v in vowels.findall(contents)]

    def total(key, values):
        return str(sum(int(v) for v in values))

    app = MapReduceApp("vowels", vowel_map, total)
    result = run_job(app, INPUTS[:2], n_reduce=2, workers=2)
    assert set(result.output) == set("aeiou")
    assert result.output == run_sequential(app, INPUTS[:2])


def test_a_map_function_that_always_raises_fails_the_job_and_cleans_up():
    def broken(filename, contents):
        raise ValueError("bad input on purpose")

    app = MapReduceApp("broken", broken, word_count.reduce_fn)
    with pytest.raises(MapReduceError, match="bad input on purpose"):
        run_job(app, INPUTS[:2], n_reduce=1, workers=2, max_task_failures=2)
