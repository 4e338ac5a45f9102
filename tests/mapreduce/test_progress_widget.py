"""The progress widget shows the coordinator's statistics and its button kills through the job."""

from __future__ import annotations

from distlab.mapreduce.core import Coordinator
from distlab.widgets.mapreduce_progress import MapReduceProgress


class FakeJob:
    """A pure Coordinator standing in for a Job: statistics() and kill_worker()."""

    def __init__(self) -> None:
        self.coordinator = Coordinator(["a", "b", "c"], 2, task_timeout_s=5.0)
        self.kills: list[str] = []

    def statistics(self):
        return self.coordinator.statistics()

    def kill_worker(self, worker_id=None):
        held = self.coordinator.in_progress()
        if not held:
            return None
        victim = sorted(held)[0]
        self.kills.append(victim)
        self.coordinator.worker_lost(victim, 1.0)
        return victim


def test_bars_and_labels_follow_the_statistics():
    job = FakeJob()
    panel = MapReduceProgress(job)
    assert (panel.map_bar.max, panel.reduce_bar.max) == (3, 2)
    c = job.coordinator
    c.request_task("w0", 0.0)
    c.request_task("w1", 0.0)
    c.report_done("w0", "map", 0, 1, 0.5)
    panel.refresh()
    assert panel.map_bar.value == 1
    assert panel.map_label.value == "1/3 done, 1 running"
    assert "phase: map" in panel.status.value


def test_the_kill_button_kills_a_busy_worker_and_the_failure_shows():
    job = FakeJob()
    panel = MapReduceProgress(job)
    job.coordinator.request_task("w0", 0.0)
    panel.kill_button.click()
    assert job.kills == ["w0"]
    assert panel.kill_label.value == "killed w0 (SIGKILL)"
    assert "failed attempts: 1" in panel.status.value
    panel.kill_button.click()  # nobody is running a task now
    assert panel.kill_label.value == "no worker left to kill"


def test_a_finished_job_turns_green_and_disables_the_button():
    job = FakeJob()
    c = job.coordinator
    panel = MapReduceProgress(job)
    while not c.done:
        task = c.request_task("w0", 0.0)
        c.report_done("w0", task.kind, task.task_id, task.attempt, 0.0)
    stats = panel.refresh()
    assert stats.phase == "done"
    assert (panel.map_bar.value, panel.reduce_bar.value) == (3, 2)
    assert panel.reduce_bar.bar_style == "success" and panel.kill_button.disabled


def test_watch_refreshes_in_the_background_until_done():
    import time

    job = FakeJob()
    c = job.coordinator
    panel = MapReduceProgress(job).watch(interval_s=0.01)
    while not c.done:
        task = c.request_task("w0", 0.0)
        c.report_done("w0", task.kind, task.task_id, task.attempt, 0.0)
    deadline = time.monotonic() + 10
    while panel.reduce_bar.value != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert panel.reduce_bar.value == 2
    panel.stop()
    assert not panel._watcher.is_alive()
