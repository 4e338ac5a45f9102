"""A widget for chapter 03: drop rate slider -> duplicates under at-least-once vs at-most-once.

Moving the slider or pressing "run" calls ``distlab.demos.rpc_examples.run_semantics``
for both modes with the same seed and shows, side by side, how many appends ran more
than once. Holds no protocol logic; tests drive it with ``.value`` and ``.click()``.
"""

from __future__ import annotations

import ipywidgets as widgets

from distlab.demos.rpc_examples import SemanticsResult, run_semantics

MODES = ("at-least-once", "at-most-once")


class RpcSemanticsPanel:
    """Drop-rate slider, seed box, run button and a results table."""

    def __init__(self, drop_rate: float = 0.3, operations: int = 20, seed: int = 1) -> None:
        self.drop_rate = widgets.FloatSlider(
            value=drop_rate, min=0.0, max=0.6, step=0.05, description="drop rate"
        )
        self.seed = widgets.IntText(value=seed, description="seed")
        self.operations = operations
        self.run_button = widgets.Button(description="run", button_style="primary")
        self.table = widgets.HTML()
        self.results: dict[str, SemanticsResult] = {}
        self.run_button.on_click(lambda _button: self.run())
        self.drop_rate.observe(lambda _change: self.run(), names="value")
        self.view = widgets.VBox(
            [widgets.HBox([self.drop_rate, self.seed, self.run_button]), self.table]
        )
        self.run()

    def run(self) -> dict[str, SemanticsResult]:
        """Run both modes at the current settings and refresh the table."""
        self.results = {
            mode: run_semantics(
                mode,
                drop_rate=self.drop_rate.value,
                operations=self.operations,
                seed=self.seed.value,
            )
            for mode in MODES
        }
        rows = "".join(
            f"<tr><td>{r.mode}</td><td>{r.operations}</td><td>{r.retries}</td>"
            f"<td>{r.executions}</td><td><b>{r.duplicates}</b></td><td>{r.missing}</td></tr>"
            for r in self.results.values()
        )
        self.table.value = (
            "<table><tr><th>mode</th><th>appends</th><th>retries</th><th>executions</th>"
            f"<th>duplicates</th><th>missing</th></tr>{rows}</table>"
        )
        return self.results

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view)
