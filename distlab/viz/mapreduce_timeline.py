"""Draw a MapReduce job as a timeline: one row per worker, one bar per task attempt.

Map attempts are blue, reduce attempts orange; an attempt that never finished (its worker
was killed, or it timed out) is a red hatched bar ending where the coordinator gave up on it.
Bars that overlap in time on different rows are parallelism (并行) you can see.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib import pyplot as plt
from matplotlib.figure import Figure

from distlab.mapreduce.core import TaskEvent

_COLOURS = {"map": "tab:blue", "reduce": "tab:orange"}


def plot_task_timeline(
    events: Sequence[TaskEvent], *, title: str = "MapReduce tasks per worker"
) -> Figure:
    """Bars per worker from a job's events (``JobResult.events``, times from the job's start)."""
    workers = sorted({e.worker_id for e in events}, key=lambda w: (len(w), w))
    rows = {worker: index for index, worker in enumerate(workers)}
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=80)
    assigned: dict[tuple[str, str, int, int], float] = {}
    for event in events:
        key = (event.worker_id, event.kind, event.task_id, event.attempt)
        row = rows[event.worker_id]
        if event.what == "assigned":
            assigned[key] = event.at
        elif event.what in ("done", "late") and event.started is not None:
            width = (event.finished or event.started) - event.started
            axes.barh(
                row,
                width,
                left=event.started,
                color=_COLOURS[event.kind],
                alpha=0.8,
                edgecolor="black",
                linewidth=0.5,
            )
            label = f"{event.kind[0]}{event.task_id}"
            axes.text(event.started + width / 2, row, label, ha="center", va="center", fontsize=7)
        elif event.what in ("lost", "timeout") and key in assigned:
            start = assigned[key]
            axes.barh(
                row,
                event.at - start,
                left=start,
                color="white",
                edgecolor="tab:red",
                hatch="//",
                linewidth=1.0,
            )
            axes.text(
                event.at,
                row,
                f" ✗ {event.kind[0]}{event.task_id} {event.what}",
                va="center",
                fontsize=7,
                color="tab:red",
            )
    axes.set_yticks(range(len(workers)), workers)
    axes.invert_yaxis()
    axes.set_xlabel("seconds since the job started")
    axes.set_title(title)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _COLOURS.values()]
    handles.append(plt.Rectangle((0, 0), 1, 1, facecolor="white", edgecolor="tab:red", hatch="//"))
    labels = ["map", "reduce", "lost attempt (killed or timed out)"]
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    axes.set_xlim(left=0)
    axes.grid(axis="x", alpha=0.3)
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    plt.close(figure)
    return figure
