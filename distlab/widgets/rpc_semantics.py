"""A widget for chapter 03: drop rate slider -> duplicates under at-least-once vs at-most-once.

Moving the slider or pressing "run" calls ``distlab.demos.rpc_examples.run_semantics``
for both modes with the same seed and shows, side by side, how many appends ran more
than once. Holds no protocol logic; tests drive it with ``.value`` and ``.click()``.

The table's columns, in order: mode, appends called, retries sent, executions (how many
times the server ran an append), **extra executions** (runs beyond the first of one
append: the duplicates, in bold) and never executed.
"""

from __future__ import annotations

import ipywidgets as widgets

from distlab.demos.rpc_examples import SemanticsResult, run_semantics

MODES = ("at-least-once", "at-most-once")

# (header, tooltip) per column, in the order the rows are written.
_COLUMNS = (
    ("mode", "how retries are handled"),
    ("appends called", "calls the client made, each with a new token"),
    ("retries sent", "requests re-sent after a timeout"),
    ("executions", "times the server ran an append, all tokens together"),
    ("extra executions", "runs beyond the first of one append: duplicates"),
    ("never executed", "appends the server never ran"),
)
_CELL = "padding: 2px 10px; border-bottom: 1px solid #ddd"


class RpcSemanticsPanel:
    """Drop-rate slider, seed box, run button and a results table."""

    def __init__(self, drop_rate: float = 0.3, operations: int = 20, seed: int = 1) -> None:
        self.drop_rate = widgets.FloatSlider(
            value=drop_rate, min=0.0, max=0.6, step=0.05, description="drop rate"
        )
        self.seed = widgets.IntText(
            value=seed,
            description="seed",
            style={"description_width": "40px"},
            layout=widgets.Layout(width="150px"),
        )
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
        left, right = f'style="{_CELL}; text-align: left"', f'style="{_CELL}; text-align: right"'
        header = "".join(
            f'<th {left if i == 0 else right} title="{tip}">{name}</th>'
            for i, (name, tip) in enumerate(_COLUMNS)
        )
        rows = "".join(
            f"<tr><td {left}>{r.mode}</td><td {right}>{r.operations}</td>"
            f"<td {right}>{r.retries}</td><td {right}>{r.executions}</td>"
            f"<td {right}><b>{r.duplicates}</b></td><td {right}>{r.missing}</td></tr>"
            for r in self.results.values()
        )
        self.table.value = (
            f'<table style="border-collapse: collapse"><tr>{header}</tr>{rows}</table>'
        )
        return self.results

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.view)
