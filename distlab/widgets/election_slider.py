"""ElectionSlider: a slider for the spread of Raft's election timeouts, and what it does.

Moving the slider re-runs `distlab.sim.election_trials` (seeded: the same position always
gives the same picture) with timeouts drawn from ``low .. high`` ticks, then shows the
cumulative distribution of the time to elect a leader and the number of split votes
(`distlab.viz.election_timeouts`). No election logic lives here; tests drive it with
``slider.high.value = 20`` and read ``slider.last`` and ``slider.summary.value``.
"""

from __future__ import annotations

import io

import ipywidgets as widgets
from IPython.display import Image, display

from distlab.raft import RaftConfig
from distlab.sim.experiments import ElectionTrial, election_trials
from distlab.viz.election_timeouts import draw_election_times, summarize_elections

__all__ = ["ElectionSlider"]


class ElectionSlider(widgets.VBox):
    """Upper bound of the election timeout (the lower bound is fixed) + plot + summary."""

    def __init__(
        self,
        low: int = 15,
        high: int = 30,
        *,
        max_high: int = 40,
        nodes: int = 5,
        runs: int = 60,
        max_ticks: int = 300,
        heartbeat_ticks: int = 5,
    ) -> None:
        self.low, self.nodes, self.runs = low, nodes, runs
        self.max_ticks, self.heartbeat_ticks = max_ticks, heartbeat_ticks
        # One x axis for every slider position, so pictures can be compared; elections end
        # within a few timeouts, so the simulation's whole horizon would squeeze the curve left.
        self.axis_ticks = min(max_ticks, 3 * max_high)
        self.high = widgets.IntSlider(
            value=high,
            min=low,
            max=max_high,
            description="longest election timeout (ticks)",
            continuous_update=False,
            style={"description_width": "initial"},
            layout=widgets.Layout(width="420px"),
        )
        self.summary = widgets.Label(value="")
        self.plot = widgets.Output()
        self.last: list[ElectionTrial] = []
        self.high.observe(lambda _change: self.refresh(), names="value")
        super().__init__([self.high, self.summary, self.plot])
        self.refresh()

    def refresh(self) -> list[ElectionTrial]:
        """Run the trials for the slider's position and redraw."""
        config = RaftConfig(
            election_timeout_ticks=(self.low, self.high.value),
            heartbeat_interval_ticks=self.heartbeat_ticks,
        )
        trials = election_trials(
            range(self.runs), nodes=self.nodes, config=config, max_ticks=self.max_ticks
        )
        self.last = trials
        label = f"timeouts {self.low}-{self.high.value} ticks"
        figure = draw_election_times(trials, title=label, max_ticks=self.axis_ticks)
        png = io.BytesIO()
        figure.savefig(png, format="png")  # a PNG shows whatever matplotlib backend is active
        self.plot.clear_output(wait=True)
        with self.plot:
            display(Image(data=png.getvalue()))
        # The summary last, so text and picture never disagree while the plot redraws.
        self.summary.value = summarize_elections(trials, label=label)
        return trials
