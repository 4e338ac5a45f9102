"""HistoryExplorer: pick one key of a history, see its operations and the checker's verdict.

Linearizability is *local*: a history is linearizable exactly when each key's operations are.
So a long history is best read one key at a time. For the chosen key the explorer shows a
timeline of its operations and what `distlab.check.check_linearizable` says about them:

* linearizable -- the **witness**: one single-copy order of the operations that explains
  every answer, numbered, plus the operations left out of it (failed ones did not happen;
  an indefinite one that nobody observed need not have);
* not linearizable -- the **counterexample** in words, its operations drawn in red;
* unknown -- the checker ran out of its time budget, which proves nothing either way.

The logic is :func:`key_view` (a pure function of a history and a key, returning a frozen
`KeyView` with a plain-text form) and :func:`key_html`; the widget only calls them and draws
with `distlab.viz`. Tests drive it with ``explorer.select("x")`` and read ``explorer.view``.
"""

from __future__ import annotations

import html
import io
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from distlab.check import CheckResult, History, Operation, check_linearizable
from distlab.viz import plot_timeline, plot_violation

__all__ = ["HistoryExplorer", "KeyView", "describe_operation", "key_html", "key_view"]

_VERDICT_WORDS = {"ok": "linearizable", "violation": "NOT linearizable", "unknown": "unknown"}
# verdict -> (badge background, badge text colour)
_VERDICT_COLOURS = {
    "ok": ("#2e7d32", "#ffffff"),
    "violation": ("#c62828", "#ffffff"),
    "unknown": ("#f9a825", "#212121"),
}


def _operations(history: History | Iterable[Operation]) -> list[Operation]:
    return history.operations() if isinstance(history, History) else list(history)


def describe_operation(op: Operation) -> str:
    """``put(x, '1') by client 2 during [5, 15]``; an indefinite call has no known end."""
    if op.complete is None:
        during = f"from {op.invoke}, still pending"
    elif op.indefinite:
        during = f"from {op.invoke} (gave up at {op.complete}; may take effect later)"
    else:
        during = f"during [{op.invoke}, {op.complete}]"
    return f"{op.describe()} by client {op.client} {during}"


@dataclass(frozen=True)
class KeyView:
    """What the explorer shows for one key.

    ``operations`` are the key's operations in invocation order. For a linearizable key,
    ``order`` is the checker's witness (a legal single-copy order) and ``left_out`` the
    operations not in it; for a violation, ``witness`` holds the operations the
    ``explanation`` names (the counterexample). ``check`` is the checker's full answer for
    this key alone.
    """

    key: str
    operations: tuple[Operation, ...]
    verdict: str  # "ok" | "violation" | "unknown"
    explanation: str
    order: tuple[Operation, ...] = ()
    left_out: tuple[Operation, ...] = ()
    witness: tuple[Operation, ...] = ()
    check: CheckResult | None = None

    @property
    def linearizable(self) -> bool | None:
        """True, False, or None when the checker could not decide in time."""
        return {"ok": True, "violation": False, "unknown": None}[self.verdict]

    def text(self, max_listed: int = 20) -> str:
        """The view as plain text (what a notebook can print and nbval can check)."""
        lines = [f"key {self.key!r}: {len(self.operations)} operations, {self.verdict_word}"]
        if self.verdict == "ok":
            lines.append("witness: one single-copy order that explains every answer")
            lines += _numbered(self.order, max_listed)
            if self.left_out:
                lines.append("left out of the order:")
                lines += [
                    f"   {describe_operation(op)}: {_why_left_out(op)}" for op in self.left_out
                ]
        elif self.verdict == "violation":
            lines.append("counterexample: " + self.explanation)
            lines.append("operations involved:")
            lines += [f"   {describe_operation(op)}" for op in self.witness]
        else:
            lines.append(self.explanation)
        return "\n".join(lines)

    @property
    def verdict_word(self) -> str:
        return _VERDICT_WORDS[self.verdict]


def _numbered(ops: tuple[Operation, ...], max_listed: int) -> list[str]:
    lines = [f"  {i:>2}. {describe_operation(op)}" for i, op in enumerate(ops[:max_listed], 1)]
    if len(ops) > max_listed:
        lines.append(f"  ... and {len(ops) - max_listed} more")
    return lines


def _why_left_out(op: Operation) -> str:
    if op.status == "fail":
        return "failed definitely, so it did not happen"
    if op.kind == "get":
        return "a read whose answer never came constrains nothing"
    return "indefinite, and no answer needs it, so it need not have happened"


def key_view(
    history: History | Iterable[Operation], key: str, *, timeout_s: float | None = 10.0
) -> KeyView:
    """Check ``key``'s operations alone and describe the verdict (see `KeyView`)."""
    everything = _operations(history)
    ops = tuple(sorted((op for op in everything if op.key == key), key=lambda o: (o.invoke, o.id)))
    if not ops:
        keys = sorted({op.key for op in everything}, key=str)
        raise ValueError(f"no operation on key {key!r}; the history's keys are {keys}")
    result = check_linearizable(ops, timeout_s=timeout_s)
    by_id = {op.id: op for op in ops}
    if result.verdict == "ok":
        order = tuple(by_id[i] for i in result.keys[key].prefix)
        placed = {op.id for op in order}
        left_out = tuple(op for op in ops if op.id not in placed)
        return KeyView(key, ops, "ok", result.explanation, order, left_out, check=result)
    witness = tuple(by_id.get(op.id, op) for op in result.witness)
    return KeyView(key, ops, result.verdict, result.explanation, witness=witness, check=result)


def key_html(view: KeyView, max_listed: int = 20) -> str:
    """The verdict block of the explorer: a coloured badge, then the order or the counterexample."""
    background, colour = _VERDICT_COLOURS[view.verdict]
    badge = (
        f"<span class='distlab-verdict-badge' style='background:{background};color:{colour};"
        "padding:1px 8px;border-radius:9px;font-weight:bold'>"
        f"{html.escape(view.verdict_word)}</span>"
    )
    head = (
        f"<div style='margin:2px 0 4px 0'><b>key {html.escape(repr(view.key))}</b> · "
        f"{len(view.operations)} operations · {badge}</div>"
    )
    body: list[str] = []
    if view.verdict == "ok":
        body.append("<div>witness: one single-copy order that explains every answer</div>")
        items = "".join(
            f"<li>{html.escape(describe_operation(op))}</li>" for op in view.order[:max_listed]
        )
        body.append(f"<ol class='distlab-witness-order' style='margin:2px 0'>{items}</ol>")
        if len(view.order) > max_listed:
            body.append(f"<div>… and {len(view.order) - max_listed} more</div>")
        if view.left_out:
            rows = "".join(
                f"<li>{html.escape(describe_operation(op))}: {html.escape(_why_left_out(op))}</li>"
                for op in view.left_out
            )
            body.append(f"<div>left out of the order:</div><ul style='margin:2px 0'>{rows}</ul>")
    elif view.verdict == "violation":
        body.append(
            "<div class='distlab-counterexample' style='color:#b71c1c'>counterexample: "
            f"{html.escape(view.explanation)}</div>"
        )
    else:
        body.append(f"<div>{html.escape(view.explanation)}</div>")
    return (
        f"<div class='distlab-history-verdict' data-key='{html.escape(str(view.key))}' "
        f"data-verdict='{html.escape(view.verdict)}' style='font-size:13px;line-height:1.45'>"
        + head
        + "".join(body)
        + "</div>"
    )


class HistoryExplorer(widgets.VBox):
    """A key dropdown (each key labelled with its verdict), the verdict block, a timeline.

    ``result`` may be a `CheckResult` already computed for the whole history (it labels the
    dropdown); otherwise the explorer checks the history once. ``max_ops`` bounds how many
    operations the timeline draws (a key with thousands would be unreadable): the first ones
    for a linearizable key, those around the counterexample for a violation; ``max_listed``
    how many steps of a witness order are listed.
    """

    def __init__(
        self,
        history: History | Iterable[Operation],
        *,
        key: str | None = None,
        result: CheckResult | None = None,
        timeout_s: float | None = 10.0,
        max_ops: int = 12,
        max_listed: int = 12,
    ) -> None:
        self.operations = _operations(history)
        if not self.operations:
            raise ValueError("the history has no operations to explore")
        self.timeout_s, self.max_ops, self.max_listed = timeout_s, max_ops, max_listed
        self.result = (
            result
            if result is not None
            else check_linearizable(self.operations, timeout_s=timeout_s)
        )
        counts = Counter(op.key for op in self.operations)
        keys = sorted(counts, key=str)
        verdicts = self.result.key_verdicts
        options = [
            (f"{k} · {counts[k]} ops · {_VERDICT_WORDS[verdicts.get(k, 'unknown')]}", k)
            for k in keys
        ]
        if key is None:  # open on the first violation, the thing worth reading first
            key = self.result.violating_keys[0] if self.result.violating_keys else keys[0]
        if key not in counts:
            raise ValueError(f"no operation on key {key!r}; the history's keys are {keys}")
        self.key = widgets.Dropdown(
            options=options,
            value=key,
            description="key",
            layout=widgets.Layout(width="420px"),
        )
        self.verdict = widgets.HTML()
        # An Image widget, not an Output: redrawing it only changes widget state, so choosing
        # a key from code (a checked notebook cell) adds no display output to that cell.
        self.plot = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.view: KeyView | None = None
        self.figure: Any = None
        self._views: dict[str, KeyView] = {}
        self.key.observe(lambda change: self.show(change["new"]), names="value")
        super().__init__([self.key, self.verdict, self.plot])
        self.add_class("distlab-history-explorer")
        self.show(key)

    def select(self, key: str) -> KeyView:
        """Choose ``key`` in the dropdown, as a learner would; returns its view."""
        if self.key.value == key:
            return self.show(key)
        self.key.value = key  # the observer redraws
        assert self.view is not None
        return self.view

    def show(self, key: str) -> KeyView:
        """Check ``key`` (once; later visits reuse the answer) and redraw."""
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = key_view(self.operations, key, timeout_s=self.timeout_s)
        self.view = view
        self.verdict.value = key_html(view, self.max_listed)
        self.figure = self._draw(view)
        png = io.BytesIO()
        self.figure.savefig(png, format="png")  # a PNG shows under any matplotlib backend
        self.plot.value = png.getvalue()
        return view

    def __repr__(self) -> str:
        # Short, and the same on every run: a notebook stores it as the widget's text form.
        return (
            f"HistoryExplorer({len(self.operations)} operations on {len(self.key.options)} "
            f"keys, showing {self.key.value!r})"
        )

    def _draw(self, view: KeyView) -> Any:
        if view.verdict == "violation" and view.check is not None:
            return plot_violation(view.operations, view.check, max_ops=self.max_ops)
        shown = view.operations[: self.max_ops]
        title = f"key {view.key!r}: {view.verdict_word}"
        if len(shown) < len(view.operations):
            title += f" (first {len(shown)} of {len(view.operations)} operations)"
        return plot_timeline(shown, title=title)
