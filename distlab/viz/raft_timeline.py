"""Pictures and text of a simulated Raft run: who was follower, candidate or leader, when.

What it is: `timeline_summary(sim)` turns a `Simulation`'s timeline into lines such
as ``t=13 n0 became leader of term 1`` (deterministic for a seed, so a notebook
can check it exactly), and `draw_raft_timeline(sim)` draws one horizontal lane per
node, coloured by role, with leader terms written on the bars and crashes and
network changes marked.
What it must never do: run or change a simulation; it only reads
``sim.timeline``, ``sim.node_ids`` and ``sim.now``.
Where it fits: used by the Raft notebook after a seeded `distlab.sim` run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from distlab.sim.simulation import Simulation, TimelineEvent

ROLE_COLOURS = {
    "follower": "#c9d6df",
    "candidate": "#f4a261",
    "leader": "#2a9d8f",
}


def describe(event: TimelineEvent) -> str:
    """One event as a sentence, e.g. ``t=13 n0 became leader of term 1``."""
    who = event.node_id or "network"
    if event.kind in ROLE_COLOURS:
        article = "a " if event.kind != "leader" else ""
        suffix = " of" if event.kind == "leader" else " in"
        return f"t={event.time} {who} became {article}{event.kind}{suffix} term {event.term}"
    if event.kind == "crash":
        return f"t={event.time} {who} crashed"
    if event.kind == "restart":
        return f"t={event.time} {who} restarted from its disk"
    return f"t={event.time} {who}: {event.detail}"


def timeline_summary(
    sim: Simulation, *, kinds: tuple[str, ...] = ("leader", "crash", "restart", "network")
) -> str:
    """The run's events of the given kinds, one sentence per line, in time order."""
    return "\n".join(describe(event) for event in sim.timeline if event.kind in kinds)


def _lanes(sim: Simulation) -> dict[str, list[tuple[int, int, str, int]]]:
    """Per node: (start, end, state, term) segments; state is a role or "down"."""
    lanes: dict[str, list[tuple[int, int, str, int]]] = {n: [] for n in sim.node_ids}
    current: dict[str, tuple[int, str, int]] = {n: (0, "follower", 0) for n in sim.node_ids}
    for event in sim.timeline:
        if event.node_id is None or event.kind == "network":
            continue
        start, state, term = current[event.node_id]
        if event.kind == "crash":
            new = (event.time, "down", term)
        elif event.kind == "restart":
            new = (event.time, "follower", term)
        else:
            new = (event.time, event.kind, event.term)
        if event.time > start:
            lanes[event.node_id].append((start, event.time, state, term))
        current[event.node_id] = new
    end = max(sim.now, 1)
    for node_id, (start, state, term) in current.items():
        if end > start:
            lanes[node_id].append((start, end, state, term))
    return lanes


def draw_raft_timeline(sim: Simulation, *, figsize=(6, 3.5), dpi=80) -> Figure:
    """Draw roles and terms per node over virtual time; returns a matplotlib Figure."""
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    figure = Figure(figsize=figsize, dpi=dpi)
    axes = figure.add_subplot(1, 1, 1)
    lanes = _lanes(sim)
    names = list(sim.node_ids)
    for row, node_id in enumerate(names):
        y = len(names) - 1 - row
        for start, end, state, term in lanes[node_id]:
            if state == "down":
                axes.broken_barh([(start, end - start)], (y - 0.05, 0.1), facecolors="black")
                continue
            axes.broken_barh(
                [(start, end - start)], (y - 0.35, 0.7), facecolors=ROLE_COLOURS[state]
            )
            if state == "leader" and end - start >= 0.04 * max(sim.now, 1):
                axes.text((start + end) / 2, y, f"T{term}", ha="center", va="center", fontsize=8)
    for event in sim.timeline:
        if event.kind == "network":
            axes.axvline(event.time, color="grey", linestyle=":", linewidth=1)
    axes.set_yticks(range(len(names)))
    axes.set_yticklabels(list(reversed(names)))
    axes.set_xlim(0, max(sim.now, 1))
    axes.set_xlabel("virtual time (ticks)")
    axes.set_title(f"Raft roles and terms (seed {sim.seed})")
    handles = [Patch(color=colour, label=role) for role, colour in ROLE_COLOURS.items()]
    handles.append(Patch(color="black", label="crashed"))
    axes.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.22),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    figure.tight_layout()
    return figure
