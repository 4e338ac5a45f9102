"""Plot measured speed-up against the ideal "2x computers, 2x throughput" line."""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def plot_speedup(
    workers: Sequence[int],
    speedups: Sequence[float],
    *,
    cpu_count: int | None = None,
    title: str = "Speed-up of one CPU-bound job",
) -> Figure:
    """Measured speed-up per worker count, the ideal line, and where the CPUs run out."""
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=80)
    top = max(workers)
    axes.plot([1, top], [1, top], linestyle="--", color="grey", label="ideal (N workers = N×)")
    axes.plot(workers, speedups, marker="o", color="tab:blue", label="measured")
    for count, value in zip(workers, speedups, strict=True):
        axes.annotate(f"{value:.2f}×", (count, value), textcoords="offset points", xytext=(6, -12))
    if cpu_count and cpu_count < top:
        axes.axvline(cpu_count, color="tab:red", alpha=0.4)
        axes.text(cpu_count + 0.05, 1.05, f"{cpu_count} CPUs", color="tab:red")
    axes.set_ylim(bottom=0.6)  # room for the 1-worker point's label above the axis
    axes.set_xlabel("worker processes")
    axes.set_ylabel("speed-up vs 1 worker")
    axes.set_xticks(list(workers))
    axes.set_xlim(0.8, top + 0.5)  # room for the last label
    axes.set_title(title)
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    plt.close(figure)  # the caller displays it; do not leave it open in pyplot's registry
    return figure
