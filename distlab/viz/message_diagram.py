"""Message-sequence diagrams from an rpc trace: one vertical lane per node, time downwards.

Each send is joined to its receive by an arrow; a message the fault policy dropped ends
in a cross half-way. By default events go top to bottom in the order they really happened
(their wall-clock times, one row each), which is what a learner expects to read: a reply
lost before the client retried is drawn above the retry. ``order="lamport"`` puts them at
their Lamport timestamps instead. That order respects cause and effect (a receive is
always below its send) but says nothing about events no message connects: a retry can get
a smaller Lamport time than a lost reply sent earlier, and be drawn above it.

What it must never do: run an experiment or touch the network; it only draws the
``TraceEvent`` list it is given (``distlab.rpc.Tracer.events()``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.figure import Figure


def _key(event: Any, sender: str, receiver: str) -> tuple:
    return (sender, receiver, event.message, event.request_id)


def draw_message_diagram(
    events: Sequence[Any],
    *,
    nodes: Sequence[str] | None = None,
    title: str = "messages",
    figsize: tuple[float, float] = (6, 3.5),
    dpi: int = 80,
    order: str = "real time",
) -> Figure:
    """Draw ``events`` (TraceEvents) as a message-sequence diagram; return the Figure.

    ``order``: "real time" (default: rows in wall-clock order) or "lamport" (rows at the
    events' Lamport timestamps); see the module docstring.
    """
    if order not in ("real time", "lamport"):
        raise ValueError(f'order must be "real time" or "lamport", got {order!r}')
    if order == "real time":
        row = {}
        next_row = 1
        for i in sorted(range(len(events)), key=lambda i: (events[i].wall_time, i)):
            row[i] = next_row
            # A lost message gets room for its cross (and the wait for a timeout).
            next_row += 2 if events[i].kind == "drop" else 1
    else:
        row = {i: event.lamport for i, event in enumerate(events)}
    if nodes is None:
        nodes = []
        for event in events:
            for name in (event.node, event.peer):
                if name not in nodes:
                    nodes.append(name)
    lane = {name: i for i, name in enumerate(nodes)}
    figure, axes = plt.subplots(figsize=figsize, dpi=dpi)
    sends: dict[tuple, int] = {}
    for i, event in enumerate(events):
        if event.kind in ("send", "drop"):
            sends.setdefault(_key(event, event.node, event.peer), i)
    max_time = max(row.values(), default=1)
    for name, x in lane.items():
        axes.plot([x, x], [0, max_time + 1], color="0.75", linewidth=1, zorder=0)
        axes.text(x, -0.6, name, ha="center", va="bottom", fontsize=9, fontweight="bold")
    for i, event in enumerate(events):
        if event.node not in lane or event.peer not in lane:
            continue
        label = event.method if event.message == "request" else "reply"
        color = "tab:blue" if event.message == "request" else "tab:green"
        if event.kind == "recv":
            sent = sends.get(_key(event, event.peer, event.node))
            if sent is None:
                continue
            x0, y0 = lane[events[sent].node], row[sent]
            x1, y1 = lane[event.node], row[i]
            axes.annotate(
                "",
                xy=(x1, y1),
                xytext=(x0, y0),
                arrowprops={"arrowstyle": "->", "color": color, "linewidth": 1.2},
            )
            axes.text(
                (x0 + x1) / 2,
                (y0 + y1) / 2,
                label,
                fontsize=8.5,
                ha="center",
                va="bottom",
                color=color,
            )
        elif event.kind == "drop":
            x0, y0 = lane[event.node], row[i]
            # Halfway to the peer, where the message was lost (floats: between two lanes).
            mid_x: float = x0 + (lane[event.peer] - x0) / 2
            mid_y: float = y0 + 0.5
            axes.plot([x0, mid_x], [y0, mid_y], color="tab:red", linestyle="--", linewidth=1.2)
            axes.plot([mid_x], [mid_y], marker="x", color="tab:red", markersize=9)
            axes.text(mid_x, mid_y, f" {label} lost", fontsize=8.5, color="tab:red", va="top")
    axes.set_xlim(-0.7, max(len(nodes) - 1, 1) + 0.7)
    axes.set_ylim(max_time + 1.5, -1)
    axes.set_xticks([])
    axes.set_yticks([])
    axes.set_ylabel("events as they happened ↓" if order == "real time" else "Lamport time")
    axes.set_title(title, fontsize=10)
    for side in ("top", "right", "bottom"):
        axes.spines[side].set_visible(False)
    figure.tight_layout()
    return figure
