"""Plot lost updates against thread count, without and with a Mutex (chapter 02).

Takes numbers measured by `distlab.demos.races` and returns a matplotlib Figure;
it never runs an experiment itself and never leaves a figure open in pyplot.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib import pyplot as plt
from matplotlib.figure import Figure


def plot_lost_updates(
    thread_counts: Sequence[int],
    lost_without_lock: Sequence[int],
    lost_with_lock: Sequence[int],
    *,
    expected: Sequence[int] | None = None,
) -> Figure:
    """Bars of lost increments per thread count: unlocked (red) beside Mutex-protected."""
    figure, axes = plt.subplots(figsize=(6, 3.5), dpi=80)
    positions = list(range(len(thread_counts)))
    width = 0.38
    unlocked = axes.bar(
        [p - width / 2 for p in positions],
        lost_without_lock,
        width,
        color="tab:red",
        label="no lock",
    )
    locked = axes.bar(
        [p + width / 2 for p in positions],
        lost_with_lock,
        width,
        color="tab:green",
        label="with Mutex",
    )
    # Label the bars: a Mutex's bars are all 0 and would otherwise be invisible.
    axes.bar_label(unlocked, fontsize=8)
    axes.bar_label(locked, fontsize=8, color="tab:green")
    if expected is not None:
        axes.plot(positions, expected, "k--", marker=".", label="increments attempted")
    axes.set_xticks(positions, [str(n) for n in thread_counts])
    axes.set_xlabel("threads")
    axes.set_ylabel("lost updates")
    axes.set_title("A shared counter: updates lost to races")
    axes.legend(loc="upper left")
    axes.grid(alpha=0.3, axis="y")
    figure.tight_layout()
    plt.close(figure)  # the caller displays it
    return figure
