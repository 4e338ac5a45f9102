"""The timeline drawing: one row per client, bars per operation, witness in red."""

from __future__ import annotations

from matplotlib.colors import to_rgb
from matplotlib.patches import Rectangle

from distlab.check import History, check_linearizable, op
from distlab.check.generate import inject_stale_reads, simulate
from distlab.viz.timeline import plot_timeline, plot_violation, violation_window


def bars(figure):
    return [p for p in figure.axes[0].patches if isinstance(p, Rectangle)]


def test_one_bar_per_operation_one_row_per_client_and_open_ended_indefinite_ops():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(2, "put", "x", "2", start=2, end=4, status="info"),
            op(3, "get", "x", output="1", start=12, end=20),
            op(3, "put", "x", "3", start=21, end=22, status="fail"),
        ]
    )
    figure = plot_timeline(history)
    drawn = bars(figure)
    assert len(drawn) == 4
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == [
        "client 1",
        "client 2",
        "client 3",
    ]
    indefinite = drawn[1]
    assert indefinite.get_hatch() == "///"
    assert indefinite.get_x() + indefinite.get_width() > 22  # runs past the last completion
    assert drawn[3].get_linestyle() == "--"  # the failed put


def test_violation_is_drawn_with_the_witness_in_red():
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(1, "put", "x", "2", start=11, end=20),
            op(3, "get", "x", output="1", start=21, end=30),
            op(2, "get", "x", output="2", start=22, end=25),
        ]
    )
    result = check_linearizable(history)
    figure = plot_violation(history, result)
    red_rgb = to_rgb("tab:red")
    red = [b for b in bars(figure) if tuple(b.get_facecolor()[:3]) == red_rgb]
    assert len(bars(figure)) == 4 and len(red) == len(result.witness) == 3


def test_window_of_a_long_history_is_short_and_keeps_the_witness():
    history = simulate(5, clients=5, operations=3000, keys=3, append_fraction=0.0)
    broken = inject_stale_reads(history, 1, seed=2)
    result = check_linearizable(broken)
    window = violation_window(broken, result, max_ops=10)
    assert len(window) == 10
    assert {o.id for o in result.witness} <= {o.id for o in window}
    assert {o.key for o in window} == {result.witness[0].key}


def test_the_offending_operation_is_labelled_even_at_the_right_edge():
    """A long label on the last operation ends at its bar instead of being cut off."""
    history = History.from_operations(
        [
            op(1, "put", "x", "1", start=0, end=10),
            op(1, "put", "x", "2", start=11, end=20),
            op(2, "get", "x", output="1" * 40, start=21, end=22),
            op(3, "get", "x", output="1", start=95, end=96),
        ]
    )
    result = check_linearizable(history)
    figure = plot_violation(history, result)
    axes = figure.axes[0]
    frame = axes.get_window_extent()
    red = [t for t in axes.texts if t.get_color() == "darkred"]
    assert len(red) == len(result.witness)
    for text in axes.texts:
        if text.get_visible():
            box = text.get_window_extent()
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1, text.get_text()
    assert all(t.get_visible() for t in red)
