"""CounterRace: a slider for the thread count that re-runs the counter race.

Moving the slider (or clicking "run again") calls `distlab.demos.races.race_counter`,
the same function the tests and the notebook call, and shows expected, actual
and lost updates in a label. A checkbox switches the Mutex on. No race logic
lives here; tests drive it with ``panel.threads.value = 4`` and ``panel.run.click()``.
"""

from __future__ import annotations

import ipywidgets as widgets

from distlab.demos.races import CounterResult, race_counter

__all__ = ["CounterRace"]


class CounterRace(widgets.VBox):
    """Thread-count slider + "use Mutex" checkbox + run button + result label."""

    def __init__(self, threads: int = 4, increments: int = 200, max_threads: int = 16) -> None:
        self.increments = increments
        self.threads = widgets.IntSlider(
            value=threads, min=1, max=max_threads, description="threads"
        )
        self.use_mutex = widgets.Checkbox(value=False, description="use Mutex")
        self.run = widgets.Button(description="run again")
        self.result = widgets.Label(value="")
        self.last: CounterResult | None = None
        self.threads.observe(self._on_change, names="value")
        self.use_mutex.observe(self._on_change, names="value")
        self.run.on_click(lambda _button: self.refresh())
        super().__init__([widgets.HBox([self.threads, self.use_mutex, self.run]), self.result])
        self.refresh()

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    def refresh(self) -> CounterResult:
        """Run the race once with the current settings and show the outcome."""
        result = race_counter(self.threads.value, self.increments, lock=self.use_mutex.value)
        self.last = result
        guard = "with Mutex" if result.locked else "no lock"
        self.result.value = (
            f"{result.threads} threads × {result.increments_per_thread} increments ({guard}): "
            f"expected {result.expected}, got {result.actual}, lost {result.lost_updates}"
        )
        return result
