"""How the spread of election timeouts decides how fast Raft elects a leader (选举 election).

What it is: `summarize_elections(trials)` turns a list of simulated elections
(`distlab.sim.ElectionTrial`) into one deterministic sentence (median, slowest, how many
needed more than one candidacy -- split votes -- and how many found no leader at all), and
`draw_election_times(trials)` draws the cumulative distribution of the time to elect, the
way the Raft paper's Figure 16 does, with the split-vote count in the title.
What it must never do: run a simulation; it only reads the trials it is given.
Where it fits: the Raft notebook's election-timeout slider
(`distlab.widgets.election_slider`) runs `distlab.sim.election_trials` and calls these.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["draw_election_times", "summarize_elections"]


def _times(trials: Sequence[Any]) -> list[int]:
    return sorted(t.ticks_to_leader for t in trials if t.ticks_to_leader is not None)


def summarize_elections(trials: Sequence[Any], *, label: str = "") -> str:
    """One line: median and slowest ticks to a leader, split votes, elections with no leader."""
    times = _times(trials)
    split = sum(trial.split for trial in trials)
    stuck = len(trials) - len(times)
    prefix = f"{label}: " if label else ""
    if not times:
        return f"{prefix}no leader in any of {len(trials)} runs ({split} split votes)"
    return (
        f"{prefix}median {statistics.median(times):g} ticks, slowest {times[-1]} ticks, "
        f"split votes in {split}/{len(trials)} runs, no leader in {stuck}"
    )


def draw_election_times(
    trials: Sequence[Any],
    *,
    title: str = "time to elect a leader",
    max_ticks: int | None = None,
    figsize: tuple[float, float] = (6, 3.5),
    dpi: int = 80,
) -> Figure:
    """Cumulative share of runs that have a leader after t ticks (runs without one never
    reach the top of the curve)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=dpi)
    axes = figure.add_subplot(1, 1, 1)
    times = _times(trials)
    total = max(len(trials), 1)
    if times:
        xs = [0, *times]
        ys = [0.0, *[(i + 1) / total for i in range(len(times))]]
        axes.step(xs, ys, where="post", color="#2a9d8f")
    right = max_ticks if max_ticks is not None else max(times, default=1)
    axes.set_xlim(0, max(right, 1))
    axes.set_ylim(0, 1.02)
    axes.set_xlabel("ticks from start until a leader exists")
    axes.set_ylabel("share of runs")
    split = sum(trial.split for trial in trials)
    stuck = len(trials) - len(times)
    axes.set_title(f"{title}\nsplit votes: {split}/{len(trials)}, no leader: {stuck}", fontsize=10)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    return figure
