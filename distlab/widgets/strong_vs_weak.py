"""StrongVsWeak: the same seeded workload against the strong and the weak store, side by side.

Two buttons. **Run** plays the workload on both clusters at once with a healthy network;
**Partition** plays it again and, a third of the way in, cuts one node off (the Raft leader
in the strong cluster, the first replica in the weak one), healing it at two thirds. Each
side then shows what :func:`distlab.kv.workload.run_workload` measured, as labels with
stable text (tests and a browser read them)::

    ok: 812 · failed: 0 · indefinite: 1      availability (可用性)
    latency p50: 4.1 ms · p99: 38.0 ms
    stale reads: 0                           (陈旧读)
    acknowledged writes lost: 0
    linearizable: True                       the checker's verdict (线性一致性)
    converged after heal: True               (weak side only)

The verdict, the stale reads, the lost writes and the convergence are bold, green when all
is well and red otherwise. Below them a timeline picture (hidden until the first run): the
violation the checker found (the stale read in red), or, for a linearizable history, a few
operations around the partition. Every click runs on fresh keys (``run_workload`` picks
them), so a second run is not judged against the first one's data. No protocol logic lives
here; the buttons call the same ``run_workload`` a test calls. ``background=False`` runs a
click synchronously (tests); otherwise ``wait()`` joins the run.
"""

from __future__ import annotations

import io
import threading
from dataclasses import replace
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from distlab.check.history import Operation
from distlab.check.nemesis import Fault, Nemesis
from distlab.kv.workload import WorkloadResult, run_workload
from distlab.viz.timeline import LABEL_FONT_SIZE, plot_timeline, violation_window

__all__ = ["ModePanel", "StrongVsWeak", "plot_run"]

_TITLES = {
    "strong": "strong (强一致): KV on Raft",
    "weak": "weak (弱一致): LWW replicas",
}
_GOOD, _BAD, _UNKNOWN = "green", "#c00000", "#b06000"
# The panel shows the picture 480 pixels wide, side by side with the other mode's.
_PANEL_FONT_SIZE = 9.5


def _short_key(op: Operation) -> Operation:
    """The key as the learner names it, without the run's prefix (``s8r3.k0`` -> ``k0``)."""
    return replace(op, key=op.key.rsplit(".", 1)[-1])


def plot_run(
    result: WorkloadResult,
    *,
    max_ops: int = 8,
    figsize: tuple[float, float] = (6, 3.5),
    fontsize: float = LABEL_FONT_SIZE,
) -> Figure:
    """A readable excerpt of a run's history as a timeline (times in ms from the first op).

    A violation: the operations around the checker's witness, witness in red and always
    labelled. Otherwise: the operations on one key around the first fault (or the middle
    of the run). Fault events are drawn as dashed vertical lines. Labels that would overlap
    are left out (the witness's never); keys are shown as the learner named them.
    """
    ops = result.history.operations()
    if not ops:
        return plot_timeline([], title="empty history")
    origin = min(op.invoke for op in ops)
    if result.check.verdict == "violation" and result.check.witness:
        chosen = violation_window(ops, result.check, max_ops=max_ops)
        highlight = result.check.witness
        key = _short_key(highlight[0]).key
        title = f"{result.summary.consistency}: not linearizable on key {key!r}"
    else:
        center = result.faults[0].time if result.faults else ops[len(ops) // 2].invoke
        key = ops[0].key
        around = sorted(
            (op for op in ops if op.key == key),
            key=lambda op: abs(op.invoke - center),
        )[:max_ops]
        chosen = sorted(around, key=lambda op: (op.invoke, op.id))
        highlight = ()
        shown = _short_key(chosen[0]).key
        title = f"{result.summary.consistency}: {len(chosen)} operations on {shown!r}"

    def to_ms(op: Operation) -> Operation:
        # Float times (an Operation takes them): a read of 0.3 ms must not become 0 ms long.
        complete = None if op.complete is None else (op.complete - origin) / 1e6
        since = (op.invoke - origin) / 1e6
        return _short_key(replace(op, invoke=since, complete=complete))  # type: ignore[arg-type]

    return plot_timeline(
        [to_ms(op) for op in chosen],
        highlight=[to_ms(op) for op in highlight],
        title=title,
        time_unit="ms since the run began",
        figsize=figsize,
        markers=[((event.time - origin) / 1e6, event.action) for event in result.faults],
        fontsize=fontsize,
    )


def _png(figure: Figure) -> bytes:
    """Twice the figure's resolution: sharp text in the panel's 480-pixel-wide image."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=160)
    return buffer.getvalue()


def _mark(label: widgets.Label, good: bool | None) -> None:
    """Bold, and green (good), red (bad) or amber (the checker could not tell)."""
    label.style.font_weight = "bold"
    label.style.text_color = {True: _GOOD, False: _BAD, None: _UNKNOWN}[good]


class ModePanel(widgets.VBox):
    """One side: the labels and the timeline of one consistency mode."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.title = widgets.HTML(f"<b>{_TITLES.get(mode, mode)}</b>")
        self.availability = widgets.Label("ok: - · failed: - · indefinite: -")
        self.latency = widgets.Label("latency p50: - · p99: -")
        self.stale = widgets.Label("stale reads: -")
        self.lost = widgets.Label("acknowledged writes lost: -")
        self.verdict = widgets.Label("linearizable: -")
        self.converged = widgets.Label("converged after heal: -" if mode == "weak" else "")
        # Hidden until there is a picture: an empty Image shows a broken-image icon.
        self.timeline = widgets.Image(
            format="png", layout=widgets.Layout(width="480px", display="none")
        )
        super().__init__(
            [
                self.title,
                self.availability,
                self.latency,
                self.stale,
                self.lost,
                self.verdict,
                self.converged,
                self.timeline,
            ],
            layout=widgets.Layout(border="1px solid #ccc", padding="6px", margin="2px"),
        )

    def show(self, result: WorkloadResult) -> None:
        """Redraw from one run's result."""
        s = result.summary
        self.availability.value = f"ok: {s.ok} · failed: {s.failed} · indefinite: {s.indefinite}"
        self.latency.value = (
            f"latency p50: {s.latency_p50_ms:.1f} ms · p99: {s.latency_p99_ms:.1f} ms"
        )
        self.stale.value = f"stale reads: {s.stale_reads}"
        _mark(self.stale, s.stale_reads == 0)
        self.lost.value = f"acknowledged writes lost: {s.acknowledged_writes_lost}"
        _mark(self.lost, s.acknowledged_writes_lost == 0)
        shown = {True: "True", False: "False", None: "unknown"}[s.linearizable]
        self.verdict.value = f"linearizable: {shown}"
        _mark(self.verdict, s.linearizable)
        if self.mode == "weak":
            self.converged.value = f"converged after heal: {s.converged}"
            _mark(self.converged, s.converged)
        self.timeline.value = _png(plot_run(result, fontsize=_PANEL_FONT_SIZE))
        self.timeline.layout.display = None  # there is a picture now: show it

    def show_error(self, error: BaseException) -> None:
        self.verdict.value = f"error: {type(error).__name__}: {error}"
        _mark(self.verdict, False)


class StrongVsWeak(widgets.VBox):
    """Run one seeded workload on a strong and a weak cluster; compare (module docstring)."""

    def __init__(
        self,
        strong: Any,
        weak: Any,
        *,
        seed: int = 1,
        duration_s: float = 4.0,
        clients: int = 4,
        keys: int = 3,
        background: bool = True,
    ) -> None:
        self.clusters = {"strong": strong, "weak": weak}
        self.seed = seed
        self.duration_s = duration_s
        self.clients = clients
        self.key_count = keys
        self.background = background
        self.results: dict[str, WorkloadResult] = {}
        self.runs = 0
        self.run_button = widgets.Button(description="Run", button_style="primary")
        self.partition = widgets.Button(description="Partition", button_style="danger")
        self.run_button.on_click(lambda _b: self._start(partition=False))
        self.partition.on_click(lambda _b: self._start(partition=True))
        self.status = widgets.Label("ready: press Run, or Partition to cut a node off midway")
        self.panels = {mode: ModePanel(mode) for mode in self.clusters}
        self._thread: threading.Thread | None = None
        super().__init__(
            [
                widgets.HBox([self.run_button, self.partition, self.status]),
                widgets.HBox(list(self.panels.values())),
            ]
        )

    def run(self, partition: bool) -> dict[str, WorkloadResult]:
        """Run both modes at once (blocking); show and return their results."""
        third = self.duration_s / 3
        results: dict[str, WorkloadResult] = {}
        errors: dict[str, BaseException] = {}

        def one(mode: str) -> None:
            nemesis = None
            if partition:
                nemesis = Nemesis(
                    schedule=[Fault(third, "isolate-leader"), Fault(2 * third, "heal")]
                )
            try:
                results[mode] = run_workload(
                    self.clusters[mode],
                    clients=self.clients,
                    duration_s=self.duration_s,
                    keys=self.key_count,
                    nemesis=nemesis,
                    seed=self.seed,
                    consistency=mode,
                )
            except Exception as error:  # shown on the panel; the widget stays usable
                errors[mode] = error

        threads = [threading.Thread(target=one, args=(mode,)) for mode in self.clusters]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for mode, panel in self.panels.items():
            if mode in results:
                panel.show(results[mode])
            else:
                panel.show_error(errors[mode])
        self.results = results
        self.runs += 1
        return results

    def wait(self, timeout: float = 120.0) -> None:
        """Block until the run started by a click has finished."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                raise TimeoutError(f"the run did not finish within {timeout} s")

    def _start(self, partition: bool) -> None:
        if self._thread is not None and self._thread.is_alive():
            return  # one run at a time
        self.run_button.disabled = self.partition.disabled = True
        what = "with a partition midway" if partition else "on a healthy network"
        self.status.value = f"running {self.duration_s:g} s {what}..."

        def body() -> None:
            try:
                self.run(partition)
                done = "partitioned and healed" if partition else "no faults"
                self.status.value = f"done ({done})"
            finally:
                self.run_button.disabled = self.partition.disabled = False

        if self.background:
            self._thread = threading.Thread(target=body, name="strong-vs-weak", daemon=True)
            self._thread.start()
        else:
            body()
