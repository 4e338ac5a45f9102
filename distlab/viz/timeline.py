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
) -> Figure:
    """A timeline of ``operations``; ops in ``highlight`` (matched by id) are drawn in red."""
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
    for op in ops:
        y = row[op.client] - _BAR_HEIGHT / 2
        end = right if op.indefinite or op.complete is None else op.complete
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
        axes.add_patch(Rectangle((op.invoke, y), end - op.invoke, _BAR_HEIGHT, **style))
        if op.indefinite and op.complete is not None:
            # Where the client gave up; the bar goes on because the effect may come later.
            axes.plot([op.complete] * 2, [y, y + _BAR_HEIGHT], color="black", linewidth=1.5)
        axes.text(
            op.invoke,
            row[op.client] - _BAR_HEIGHT / 2 - 0.04,  # just above the bar (y is inverted)
            _label(op),
            fontsize=7,
            color="darkred" if red else "black",
            va="bottom",
            clip_on=True,
        )
    axes.set_xlim(start - 0.03 * span, right + 0.02 * span)
    axes.set_ylim(-0.75, len(clients) - 0.4)
    axes.set_yticks(range(len(clients)), [f"client {c}" for c in clients])
    axes.invert_yaxis()
    axes.set_xlabel(f"time ({time_unit})" if time_unit else "time")
    axes.set_title(title or "history timeline", fontsize=10)
    axes.grid(alpha=0.3, axis="x")
    figure.tight_layout()
    plt.close(figure)  # the caller displays it
    return figure


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
