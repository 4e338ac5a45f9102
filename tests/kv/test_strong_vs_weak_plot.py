"""plot_run's timeline stays readable: no two labels overlap, the witness is always labelled."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

from distlab.check import History, check_linearizable, op
from distlab.widgets.strong_vs_weak import plot_run

MS = 1_000_000
KEY = "s1r1.k0"


def crowded_result():
    """A stale read (client 2 reads 'p0.1' after 'p0.5' completed) among short, close ops."""
    ops = [
        op(0, "put", KEY, "p0.1", start=0, end=2 * MS),
        op(1, "append", KEY, "a1.2;", start=1 * MS, end=3 * MS),
        op(0, "put", KEY, "p0.5", start=4 * MS, end=5 * MS),
        op(2, "get", KEY, output="p0.1a1.2;", start=6 * MS, end=7 * MS),
    ]
    # Many quick reads on one client, each a fraction of a millisecond apart.
    ops += [
        op(1, "get", KEY, output="p0.5", start=(5 * MS + i * MS // 5), end=5 * MS + i * MS // 5 + 1)
        for i in range(1, 8)
    ]
    history = History.from_operations(ops)
    check = check_linearizable(history)
    assert check.verdict == "violation"
    return SimpleNamespace(
        history=history, check=check, faults=[], summary=SimpleNamespace(consistency="weak")
    )


def test_labels_never_overlap_and_the_witness_keeps_its_labels() -> None:
    result = crowded_result()
    figure = plot_run(result)
    texts = figure.axes[0].texts
    shown = [t for t in texts if t.get_visible()]
    boxes = [t.get_window_extent() for t in shown]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), [t.get_text() for t in shown]
    assert len(shown) < len(texts), "the crowded reads should not all be labelled"
    witness = [t for t in texts if t.get_color() == "darkred"]
    assert witness and all(t.get_visible() for t in witness), "a witness label was hidden"
    # Labels and the title name the key as the learner did, without the run's prefix.
    assert all(KEY not in t.get_text() and "k0" in t.get_text() for t in texts)
    assert figure.axes[0].get_title() == "weak: not linearizable on key 'k0'"


def test_a_read_shorter_than_a_millisecond_is_a_visible_bar_inside_the_picture() -> None:
    result = crowded_result()
    figure = plot_run(result)
    axes = figure.axes[0]
    low, high = axes.get_xlim()
    reads = [p for p in axes.patches if p.get_width() < 0.1 * (high - low)]
    assert reads, "the quick reads should be drawn"
    # Each read took a nanosecond; its bar is still a few pixels wide.
    assert all(p.get_width() >= 0.012 * (high - low) for p in reads)
    frame = axes.get_window_extent()
    for text in axes.texts:
        if text.get_visible():
            box = text.get_window_extent()
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()
