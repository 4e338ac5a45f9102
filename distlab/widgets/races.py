"""CounterRace: a slider for the thread count that re-runs the counter race.

Moving the slider (or clicking "run again") calls `distlab.demos.races.race_counter`,
the same function the tests and the notebook call, and shows expected, actual
and lost updates in a label — bold, red when updates were lost, green when none were. A
checkbox switches the Mutex on. No race logic lives here; tests drive it with
``panel.threads.value = 4`` and ``panel.run.click()``.
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
        # indent=False and an automatic width: by default a checkbox reserves 300 px.
        self.use_mutex = widgets.Checkbox(
            value=False, description="use Mutex", indent=False, layout=widgets.Layout(width="auto")
        )
        self.run = widgets.Button(
            description="run again", layout=widgets.Layout(margin="0 0 0 12px")
        )
        self.result = widgets.Label(value="", style={"font_weight": "bold"})
        self.last: CounterResult | None = None
        self.threads.observe(self._on_change, names="value")
        self.use_mutex.observe(self._on_change, names="value")
        self.run.on_click(lambda _button: self.refresh())
        controls = widgets.HBox(
            [self.threads, self.use_mutex, self.run], layout=widgets.Layout(align_items="center")
        )
        super().__init__([controls, self.result])
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
        self.result.style.text_color = "#c00000" if result.lost_updates else "green"
        return result
