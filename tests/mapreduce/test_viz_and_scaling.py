"""The timeline picture, the scaling/overhead measurements, and the Dask comparison."""

from __future__ import annotations

import pytest
from matplotlib.patches import Rectangle

from distlab.mapreduce import corpus_paths, run_sequential, word_count
from distlab.mapreduce.core import TaskEvent
from distlab.viz.mapreduce_timeline import plot_task_timeline

INPUTS = [str(p) for p in corpus_paths()]


def test_the_timeline_draws_one_bar_per_finished_attempt_and_a_hatched_lost_one():
    events = [
        TaskEvent(0.0, "assigned", "map", 0, "w0", 1),
        TaskEvent(0.0, "assigned", "map", 1, "w1", 1),
        TaskEvent(0.5, "lost", "map", 1, "w1", 1),
        TaskEvent(1.0, "done", "map", 0, "w0", 1, started=0.01, finished=0.9),
        TaskEvent(1.0, "assigned", "map", 1, "w0", 2),
        TaskEvent(2.0, "done", "map", 1, "w0", 2, started=1.0, finished=1.9),
    ]
    figure = plot_task_timeline(events)
    axes = figure.axes[0]
    bars = [p for p in axes.patches if isinstance(p, Rectangle)]
    assert len(bars) == 3
    hatched = [bar for bar in bars if bar.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_width() == pytest.approx(0.5)
    assert [label.get_text() for label in axes.get_yticklabels()] == ["w0", "w1"]


@pytest.mark.cluster
def test_scaling_and_overhead_measurements_report_consistent_figures():
    from distlab.mapreduce.scaling import measure_overhead, measure_scaling

    report = measure_scaling((1, 2), app=word_count, inputs=INPUTS[:3], n_reduce=2)
    assert report.answers_agree
    assert set(report.seconds) == {1, 2} and report.speedup(1) == 1.0
    assert "speed-up" in report.table()
    overhead = measure_overhead(tasks=8, n_reduce=2, rpc_calls=20)
    assert overhead.tasks == 8
    # Measured times: checked for sense, never compared with each other (no speed claims).
    assert 0 < overhead.rpc_round_trip_s < float("inf") and overhead.seconds_per_task > 0


@pytest.mark.cluster
def test_dask_counts_the_same_words_as_the_sequential_run():
    pytest.importorskip("distributed")
    from distlab.mapreduce.on_dask import dask_word_count

    run = dask_word_count(INPUTS[:3], workers=2)
    assert run.output == run_sequential(word_count, INPUTS[:3])
    assert run.tasks_in_graph >= 3
