"""MapReduceProgress: progress bars for a running MapReduce job, and a button that kills a worker.

The bars and labels show only what the coordinator's ``statistics()`` reports (tasks done,
running, failed attempts, per phase). The "kill a worker" button calls ``job.kill_worker()``,
the same method tests call, which SIGKILLs a worker that is running a task; the coordinator
then hands that task to another worker. No scheduling logic lives here. Tests drive it with
``panel.refresh()`` and ``panel.kill_button.click()`` against any object offering
``statistics()`` and ``kill_worker()``.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

import ipywidgets as widgets

from distlab.mapreduce.core import CoordinatorStatistics

__all__ = ["MapReduceProgress"]


class _Watched(Protocol):
    def statistics(self) -> CoordinatorStatistics: ...

    def kill_worker(self, worker_id: str | None = None) -> str | None: ...


class MapReduceProgress(widgets.VBox):
    """Two progress bars (map, reduce), a status line, and a "kill a worker" button."""

    def __init__(self, job: _Watched) -> None:
        self.job = job
        stats = job.statistics()
        self.map_bar = widgets.IntProgress(
            value=0, min=0, max=stats.maps_total, description="map", bar_style="info"
        )
        self.reduce_bar = widgets.IntProgress(
            value=0, min=0, max=stats.reduces_total, description="reduce", bar_style="info"
        )
        self.map_label = widgets.Label(value="")
        self.reduce_label = widgets.Label(value="")
        self.status = widgets.Label(value="")
        self.kill_button = widgets.Button(description="kill a worker", button_style="danger")
        self.kill_label = widgets.Label(value="")
        self.kill_button.on_click(lambda _button: self.kill())
        self._watcher: threading.Thread | None = None
        self._stop = threading.Event()
        super().__init__(
            [
                widgets.HBox([self.map_bar, self.map_label]),
                widgets.HBox([self.reduce_bar, self.reduce_label]),
                self.status,
                widgets.HBox([self.kill_button, self.kill_label]),
            ]
        )
        self.refresh()

    def refresh(self) -> CoordinatorStatistics:
        """Read the coordinator's statistics once and show them."""
        stats = self.job.statistics()
        self.map_bar.value = stats.maps_done
        self.reduce_bar.value = stats.reduces_done
        self.map_label.value = (
            f"{stats.maps_done}/{stats.maps_total} done, {stats.maps_running} running"
        )
        self.reduce_label.value = (
            f"{stats.reduces_done}/{stats.reduces_total} done, {stats.reduces_running} running"
        )
        self.status.value = (
            f"phase: {stats.phase} · failed attempts: {stats.failed} · "
            f"re-executions: {stats.reassigned} · workers seen: {stats.workers_seen}"
        )
        finished = stats.phase in ("done", "failed")
        style = {"done": "success", "failed": "danger"}.get(stats.phase, "info")
        self.map_bar.bar_style = (
            style if finished or stats.maps_done == stats.maps_total else "info"
        )
        self.reduce_bar.bar_style = style
        self.kill_button.disabled = finished
        return stats

    def kill(self) -> str | None:
        """SIGKILL a busy worker through the job (what the button does)."""
        killed = self.job.kill_worker()
        self.kill_label.value = f"killed {killed} (SIGKILL)" if killed else "no worker left to kill"
        self.refresh()
        return killed

    def watch(self, interval_s: float = 0.2) -> MapReduceProgress:
        """Refresh from a background thread until the job is done or failed."""

        def loop() -> None:
            while not self._stop.wait(interval_s):
                if self.refresh().phase in ("done", "failed"):
                    return

        if self._watcher is None or not self._watcher.is_alive():
            self._stop.clear()
            self._watcher = threading.Thread(target=loop, name="mr-progress", daemon=True)
            self._watcher.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        """Stop the background refresh (it also stops by itself when the job ends)."""
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join(timeout_s)

    def _repr_keys(self) -> Any:  # keep ipywidgets' repr short and stable
        yield from ()
