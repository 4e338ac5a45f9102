"""Draw a history as a timeline: one row per client, one bar per operation (chapter 09).

A bar runs from invocation to completion. Completed operations are solid; definite
failures are pale with a dashed edge; indefinite ones (timed out) are hatched and run off
to the right edge, because their effect may land at any later time. Operations an
explanation points at are drawn in red.

Takes plain operations (or a CheckResult's witness); never checks anything itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult

_BAR_HEIGHT = 0.5
_MIN_BAR_FRACTION = 0.015
"""The narrowest bar, as a share of the time axis: about 6 pixels in a 480-pixel figure (1.5%),
so an operation shorter than a pixel (a sub-millisecond read on a run of seconds) is seen."""
LABEL_FONT_SIZE = 8.5


def _label(op: Operation) -> str:
    if op.kind == "get":
        return f"get({op.key})→{op.output!r}" if op.status == "ok" else f"get({op.key})→?"
    text = f"{op.kind}({op.key},{op.value!r})"
    return text + (" ✗" if op.status == "fail" else "?" if op.indefinite else "")


def plot_timeline(
    operations: History | Iterable[Operation],
    *,
    highlight: Iterable[Operation] = (),
    title: str | None = None,
    time_unit: str = "",
    figsize: tuple[float, float] = (6, 3.5),
    markers: Sequence[tuple[float, str]] = (),
    fontsize: float = LABEL_FONT_SIZE,
) -> Figure:
    """A timeline of ``operations``; ops in ``highlight`` (matched by id) are drawn in red.

    Readable at any scale: a bar is never narrower than a small share of the axis (an
    operation of a few microseconds on a run of seconds still shows), every label stays
    inside the picture (moved to end at its bar's right end near the right edge), and
    labels never overlap: each goes just above its bar, else just below it, else is left
    out. The highlighted operations' labels are placed first and never left out.
    ``markers`` are ``(time, text)`` pairs drawn as dashed vertical lines (e.g. faults).
    """
    ops = operations.operations() if isinstance(operations, History) else list(operations)
    marked = {op.id for op in highlight}
    figure, axes = plt.subplots(figsize=figsize, dpi=80)
    if not ops:
        axes.set_title(title or "empty history")
        plt.close(figure)
        return figure
    clients = sorted({op.client for op in ops}, key=str)
    row = {client: i for i, client in enumerate(clients)}
    start = min(op.invoke for op in ops)
    finite_end = max(op.complete if op.complete is not None else op.invoke for op in ops)
    span = max(finite_end - start, 1)
    right = finite_end + 0.15 * span  # where open-ended (indefinite) bars stop
    min_width = _MIN_BAR_FRACTION * (right - start)
    extents: dict[int, tuple[float, float]] = {}
    for op in ops:
        y = row[op.client] - _BAR_HEIGHT / 2
        end = right if op.indefinite or op.complete is None else op.complete
        left: float = op.invoke
        width: float = end - op.invoke
        if width < min_width:  # widen around the middle, so it stays where it happened
            left, width = op.invoke + width / 2 - min_width / 2, min_width
        extents[op.id] = (left, left + width)
        red = op.id in marked
        face = "tab:red" if red else ("tab:green" if op.kind == "get" else "tab:blue")
        style: dict[str, Any] = {
            "facecolor": face,
            "edgecolor": "black",
            "alpha": 0.75,
            "linewidth": 1.0,
        }
        if op.status == "fail":
            style.update(facecolor="lightgray", linestyle="--", alpha=0.8)
        elif op.indefinite:
            style.update(hatch="///", alpha=0.45)
        axes.add_patch(Rectangle((left, y), width, _BAR_HEIGHT, **style))
        if op.indefinite and op.complete is not None:
            # Where the client gave up; the bar goes on because the effect may come later.
            axes.plot([op.complete] * 2, [y, y + _BAR_HEIGHT], color="black", linewidth=1.5)
    low, high = start - 0.03 * span, right + 0.02 * span
    axes.set_xlim(low, high)
    axes.set_ylim(-0.85, len(clients) - 0.2)
    axes.set_yticks(range(len(clients)), [f"client {c}" for c in clients], fontsize=fontsize + 0.5)
    axes.tick_params(axis="x", labelsize=fontsize)
    axes.invert_yaxis()
    axes.set_xlabel(f"time ({time_unit})" if time_unit else "time", fontsize=fontsize + 0.5)
    axes.set_title(title or "history timeline", fontsize=fontsize + 1.5)
    axes.grid(alpha=0.3, axis="x")
    placed = []
    for at, text in markers:
        if low <= at <= high:
            axes.axvline(at, color="tab:orange", linestyle="--", linewidth=1)
            placed.append(
                axes.text(at, -0.62, f" {text}", fontsize=fontsize, color="tab:orange", va="center")
            )
    figure.tight_layout()
    # Highlighted operations first, so theirs are the labels that always find room.
    order = sorted(ops, key=lambda op: op.id not in marked)
    _place_labels(axes, order, marked, extents, row, placed, fontsize)
    plt.close(figure)  # the caller displays it
    return figure


def _place_labels(
    axes: Any,
    ops: Sequence[Operation],
    marked: set[int],
    extents: dict[int, tuple[float, float]],
    row: dict[Any, int],
    placed_texts: list[Any],
    fontsize: float,
) -> None:
    """One label per operation where it fits (see `plot_timeline`); texts in op order."""
    frame = axes.get_window_extent()
    boxes = [text.get_window_extent() for text in placed_texts]
    to_data = axes.transData.inverted()
    for op in ops:
        red = op.id in marked
        left, right = extents[op.id]
        text = axes.text(
            left,
            0,
            _label(op),
            fontsize=fontsize,
            color="darkred" if red else "black",
            fontweight="bold" if red else "normal",
            clip_on=False,
        )
        candidates = []
        # y is inverted: "above" the bar is the smaller y. Above first, then below.
        for y, va in ((row[op.client] - _BAR_HEIGHT / 2 - 0.03, "bottom"),
                      (row[op.client] + _BAR_HEIGHT / 2 + 0.03, "top")):  # fmt: skip
            candidates.append(_fit(text, frame, to_data, left, right, y, va))
        chosen = next(
            (c for c in candidates if not any(c[2].overlaps(other) for other in boxes)), None
        )
        if chosen is None and red:
            chosen = candidates[0]  # the offending operation is always labelled
        if chosen is not None:
            position, ha, box = chosen
            text.set_position(position)
            text.set_ha(ha)
            text.set_va("bottom" if position[1] < row[op.client] else "top")
            boxes.append(box)
        else:
            text.set_visible(False)  # no room: the bar is still there


def _fit(
    text: Any, frame: Any, to_data: Any, left: float, right: float, y: float, va: str
) -> tuple[tuple[float, float], str, Any]:
    """Where ``text`` goes at height ``y`` so that it stays inside ``frame`` (pixels):
    from the bar's left end, or ending at its right end near the right edge, or from the
    frame's left edge if it is wider than the room left of it. (position, ha, padded box)"""
    text.set_va(va)
    text.set_ha("left")
    text.set_position((left, y))
    box = text.get_window_extent()
    if box.x1 > frame.x1:
        text.set_ha("right")
        text.set_position((right, y))
        box = text.get_window_extent()
        if box.x1 > frame.x1:  # the bar itself reaches the edge
            text.set_position((to_data.transform((frame.x1 - 2, 0))[0], y))
            box = text.get_window_extent()
    if box.x0 < frame.x0:
        text.set_ha("left")
        text.set_position((to_data.transform((frame.x0 + 2, 0))[0], y))
        box = text.get_window_extent()
    return text.get_position(), text.get_ha(), box.expanded(1.04, 1.1)


def violation_window(
    operations: History | Sequence[Operation], result: CheckResult, *, max_ops: int = 12
) -> list[Operation]:
    """The operations of the first violating key near the explanation's witness.

    Keeps every witness operation, then the other operations on that key closest in time,
    up to ``max_ops`` in all — a readable excerpt of a long history.
    """
    ops = operations.operations() if isinstance(operations, History) else list(operations)
    if not result.witness:
        return []
    key = result.witness[0].key
    witness_ids = {op.id for op in result.witness}
    lo = min(op.invoke for op in result.witness)
    hi = max(op.complete if op.complete is not None else op.invoke for op in result.witness)

    def distance(op: Operation) -> float:
        end = op.complete if op.complete is not None else op.invoke
        if end >= lo and op.invoke <= hi:
            return 0.0  # overlaps the witness span
        return float(min(abs(op.invoke - hi), abs(end - lo)))

    others = sorted(
        (op for op in ops if op.key == key and op.id not in witness_ids),
        key=lambda op: (distance(op), op.invoke),
    )
    chosen = [op for op in ops if op.id in witness_ids] + others[
        : max(0, max_ops - len(witness_ids))
    ]
    return sorted(chosen, key=lambda op: (op.invoke, op.id))


def plot_violation(
    operations: History | Sequence[Operation], result: CheckResult, *, max_ops: int = 12
) -> Figure:
    """The timeline excerpt around a violation, with its witness operations in red."""
    window = violation_window(operations, result, max_ops=max_ops)
    key = result.witness[0].key if result.witness else "?"
    return plot_timeline(window, highlight=result.witness, title=f"not linearizable on key {key!r}")
