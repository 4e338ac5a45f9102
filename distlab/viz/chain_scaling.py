"""Plot chain replication's and CRAQ's read throughput against chain length, beside Raft KV.

Takes plain rows (``system``, ``nodes``, ``write_fraction``, ``reads_per_s``,
``reads_served``: what `distlab.chain.measure_throughput` returns) and draws two panels:
reads per second against chain length at one write mix (Raft KV as a flat line), and the
share of reads each node of the longest chain served (the mechanism, whatever the cores).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib import pyplot as plt
from matplotlib.figure import Figure

__all__ = ["plot_chain_scaling"]

_COLOURS = {"cr": "tab:blue", "craq": "tab:orange", "raft-kv": "tab:grey"}


def plot_chain_scaling(rows: Sequence[Any], *, write_fraction: float | None = None) -> Figure:
    """Two panels from measured rows; ``write_fraction`` picks the mix (default: the
    smallest measured)."""
    if not rows:
        raise ValueError("no rows to plot: measure some first")
    mix = min(r.write_fraction for r in rows) if write_fraction is None else write_fraction
    chosen = [r for r in rows if r.write_fraction == mix]
    if not chosen:
        raise ValueError(f"no rows measured with write_fraction={mix}")
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=80)
    for system in ("cr", "craq"):
        points = sorted((r.nodes, r.reads_per_s) for r in chosen if r.system == system)
        if points:
            left.plot(*zip(*points, strict=True), marker="o", color=_COLOURS[system], label=system)
    for row in chosen:
        if row.system == "raft-kv":
            left.axhline(
                row.reads_per_s,
                color=_COLOURS["raft-kv"],
                linestyle="--",
                label=f"Raft KV ({row.nodes} nodes)",
            )
    left.set_xlabel("chain length (nodes)")
    left.set_ylabel("reads per second")
    left.set_title(f"reads/s at {mix:.0%} writes")
    left.set_ylim(bottom=0)
    left.legend()
    left.grid(alpha=0.3)
    longest = max((r.nodes for r in chosen if r.system in ("cr", "craq")), default=0)
    width = 0.38
    for offset, system in ((-width / 2, "cr"), (width / 2, "craq")):
        row = next((r for r in chosen if r.system == system and r.nodes == longest), None)
        if row is None:
            continue
        names = sorted(row.reads_served, key=lambda n: int(n[1:]) if n[1:].isdigit() else 0)
        total = sum(row.reads_served.values()) or 1
        shares = [row.reads_served[n] / total for n in names]
        positions = [i + offset for i in range(len(names))]
        right.bar(positions, shares, width, color=_COLOURS[system], label=system)
        right.set_xticks(range(len(names)), names)
    right.set_ylabel("share of reads served")
    right.set_title(f"who served the reads (chain of {longest}, head on the left)")
    right.set_ylim(0, 1)
    right.legend()
    figure.tight_layout()
    plt.close(figure)
    return figure
