"""AuroraPanel: three availability zones of two storage nodes, the writer, and what still works.

What it is: one column per availability zone (可用区) ``a``, ``b``, ``c``, two storage node
cards in each with the node's durable LSN (its scl: every redo log record up to it is on
its disk), whether it is down or slow; above them the writer's epoch, phase and VDL. Buttons
crash, restart and slow down each node and each whole zone; "Probe" tries one commit and
one read now and adds a row to the availability table (what was down, could it write,
could it read); under the cards a sparkline of commit latencies.

Buttons call the methods a test calls -- ``crash``, ``restart`` on a `distlab.sim.World` or
a `distlab.cluster.Cluster`; slowing is the simulator's slow disk
(`AuroraSimSystem.set_slow`) or, on a cluster, the same slow disk in the real node
(``Aurora.set_slow``) --
then redraw from ``status()``. On a World, "Run 1 s" lets one virtual second pass (with an
`AuroraWorkload`'s clients busy, if given). How it looks is `aurora_html` and `sparkline`,
pure functions. What it must never do: hold protocol logic.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from typing import Any

import ipywidgets as widgets

__all__ = ["AuroraPanel", "aurora_html", "sparkline"]

WRITER = "n0"
ZONES = {"a": ("n1", "n2"), "b": ("n3", "n4"), "c": ("n5", "n6")}
SLOW_TICKS = 20  # the simulator's slow disk: answers 0.2 virtual seconds late
SLOW_MS = 100.0  # a real cluster's slow disk: every answer 100 ms late


def _card(name: str, status: Any, slow: bool) -> str:
    state = getattr(status, "state", "crashed")
    fields = dict(getattr(status, "fields", {}) or {})
    up = state == "up"
    colour = "#c62828" if not up else ("#ef6c00" if slow else "#2e7d32")
    label = state if not up else ("slow" if slow else "up")
    scl = fields.get("scl", "-") if up else "-"
    return (
        f"<div class='distlab-aurora-node' data-node='{name}' data-state='{label}' "
        f"style='border:2px solid {colour};border-radius:6px;margin:3px;padding:3px 6px;"
        f"font-size:12px'><b>{name}</b> · {label}<br>durable LSN <b>{scl}</b></div>"
    )


def aurora_html(statuses: Mapping[str, Any], slow: Sequence[str] = ()) -> str:
    """The writer over three zone columns, from ``status()`` alone."""
    writer = statuses.get(WRITER)
    fields = dict(getattr(writer, "fields", {}) or {})
    if getattr(writer, "state", "crashed") == "up":
        head = (
            f"writer {WRITER}: epoch <b>{fields.get('epoch')}</b>, "
            f"<b>{html.escape(str(fields.get('phase')))}</b>, VDL <b>{fields.get('vdl')}</b> "
            f"(W = {fields.get('write_quorum')} of 6, R = {fields.get('read_quorum')})"
        )
    else:
        head = f"writer {WRITER}: <b>{html.escape(getattr(writer, 'state', 'crashed'))}</b>"
    columns = "".join(
        f"<div class='distlab-aurora-zone' data-zone='{zone}' style='flex:1'>"
        f"<div style='text-align:center'>zone <b>{zone}</b></div>"
        + "".join(_card(node, statuses.get(node), node in slow) for node in nodes)
        + "</div>"
        for zone, nodes in ZONES.items()
    )
    return (
        f"<div class='distlab-aurora-header'>{head}</div>"
        f"<div style='display:flex;gap:8px;max-width:600px'>{columns}</div>"
    )


def sparkline(values: Sequence[float], width: int = 300, height: int = 40) -> str:
    """Commit latencies as a small SVG line (the last 100), with the highest one labelled."""
    points = list(values)[-100:]
    if not points:
        return "<i>no commits yet</i>"
    top = max(points) or 1.0
    step = width / max(len(points) - 1, 1)
    line = " ".join(
        f"{i * step:.1f},{height - (v / top) * (height - 4) - 2:.1f}" for i, v in enumerate(points)
    )
    return (
        f"<svg class='distlab-aurora-sparkline' width='{width}' height='{height}'>"
        f"<polyline fill='none' stroke='#1565c0' stroke-width='1.5' points='{line}'/></svg>"
        f" <span style='font-size:11px'>max {top:g}</span>"
    )


class AuroraPanel:
    """The panel (see the module docstring). ``control`` is an Aurora World or Cluster."""

    def __init__(self, control: Any, *, workload: Any = None) -> None:
        self.control = control
        self.workload = workload
        self.simulated = hasattr(control, "run_for")
        self.slow: set[str] = set()
        self.latencies: list[float] = []
        self.rows: list[tuple[str, bool, bool, str]] = []
        self._probes = 0
        self.picture = widgets.HTML()
        self.spark = widgets.HTML()
        self.table = widgets.HTML()
        nodes = [n for nodes in ZONES.values() for n in nodes]
        self.crash = {n: widgets.Button(description=f"Crash {n}") for n in [*nodes, *ZONES]}
        self.restart = {n: widgets.Button(description=f"Restart {n}") for n in [*nodes, *ZONES]}
        self.slow_button = {n: widgets.Button(description=f"Slow {n}") for n in [*nodes, *ZONES]}
        for key in [*nodes, *ZONES]:
            targets = ZONES.get(key, (key,))
            self.crash[key].on_click(lambda _, t=targets: self._each(control.crash, t))
            self.restart[key].on_click(lambda _, t=targets: self._each(control.restart, t))
            self.slow_button[key].on_click(lambda _, t=targets: self.toggle_slow(t))
        self.crash_writer = widgets.Button(description="Crash writer")
        self.crash_writer.on_click(lambda _: self._each(control.crash, (WRITER,)))
        self.restart_writer = widgets.Button(description="Restart writer")
        self.restart_writer.on_click(lambda _: self._each(control.restart, (WRITER,)))
        self.probe_button = widgets.Button(description="Probe")
        self.probe_button.on_click(lambda _: self.probe())
        controls = [self.crash_writer, self.restart_writer, self.probe_button]
        if self.simulated:
            self.run_button = widgets.Button(description="Run 1 s")
            self.run_button.on_click(lambda _: self.run(1.0))
            controls.insert(0, self.run_button)
        zone_rows = [
            widgets.VBox(
                [
                    widgets.HBox([self.crash[z], self.restart[z], self.slow_button[z]]),
                    *[
                        widgets.HBox([self.crash[n], self.restart[n], self.slow_button[n]])
                        for n in ZONES[z]
                    ],
                ]
            )
            for z in ZONES
        ]
        self.widget = widgets.VBox(
            [self.picture, *zone_rows, widgets.HBox(controls), self.spark, self.table]
        )
        self.widget.add_class("distlab-aurora-panel")
        self.refresh()

    def _each(self, action: Any, nodes: Sequence[str]) -> None:
        for node in nodes:
            action(node)
        self.refresh()

    def toggle_slow(self, nodes: Sequence[str]) -> None:
        """Slow the nodes down, or (if the first already is) back to normal."""
        slow = nodes[0] not in self.slow
        for node in nodes:
            if self.simulated:
                self.control.system.set_slow(node, SLOW_TICKS if slow else 0)
            else:
                from distlab.aurora.node import set_slow

                set_slow(self.control, node, SLOW_MS if slow else 0)
            (self.slow.add if slow else self.slow.discard)(node)
        self.refresh()

    def run(self, seconds: float) -> None:
        """Let virtual time pass on a World (clients busy if a workload was given)."""
        ticks = max(1, round(seconds * getattr(self.control, "ticks_per_second", 100)))
        if self.workload is not None:
            self.workload.run_for(ticks)
            self.latencies = [float(t) for t in self.workload.latencies]
        else:
            self.control.run_for(ticks)
        self.refresh()

    def probe(self) -> tuple[bool, bool, str]:
        """Try one commit and one read now; add a row to the availability table."""
        self._probes += 1
        down = [n for n, s in self.control.status().items() if s.state != "up"]
        slow = sorted(self.slow)
        label = ", ".join(down) if down else "nothing"
        label += f" (slow: {', '.join(slow)})" if slow else ""
        wrote, read, detail = self._probe_sim() if self.simulated else self._probe_real()
        self.rows.append((label, wrote, read, detail))
        self.refresh()
        return wrote, read, detail

    def _probe_sim(self) -> tuple[bool, bool, str]:
        from distlab.aurora import Committed, ReadDone, Refused

        world, answers = self.control, self.control.system.answers
        op = f"probe-{self._probes}"
        started = world.now
        refused = world.operate(WRITER, lambda w: w.commit(op, (("probe", op),)))
        if refused is None and world.alive(WRITER):
            world.run_until(lambda: op in answers, 200)
        wrote = isinstance(answers.get(op), Committed)
        if wrote:
            self.latencies.append(float(world.now - started))
        detail = refused.reason if isinstance(refused, Refused) else ""
        detail = detail or ("" if wrote else "no answer")
        refused_read = world.operate(WRITER, lambda w: w.read(op + "r", "probe"))
        if refused_read is None and world.alive(WRITER):
            world.run_until(lambda: op + "r" in answers, 200)
        return wrote, isinstance(answers.get(op + "r"), ReadDone), detail

    def _probe_real(self) -> tuple[bool, bool, str]:
        from distlab.aurora.node import AuroraClient

        client = AuroraClient(self.control, client_id=f"probe-{self._probes}", timeout_s=1.0)
        detail = ""
        started = time.monotonic()
        try:
            client.commit([("probe", str(self._probes))])
            wrote = True
            self.latencies.append(round((time.monotonic() - started) * 1000, 1))
        except Exception as error:
            wrote, detail = False, str(error)
        try:
            client.read("probe")
            read = True
        except Exception:
            read = False
        return wrote, read, detail

    def commit_many(self, count: int) -> list[float]:
        """On a real cluster: ``count`` commits one after another, their latencies in ms."""
        from distlab.aurora.node import AuroraClient

        client = AuroraClient(self.control, client_id="panel", timeout_s=2.0)
        for i in range(count):
            started = time.monotonic()
            client.commit([("p1", f"panel-{i}")])
            self.latencies.append(round((time.monotonic() - started) * 1000, 2))
        self.refresh()
        return self.latencies[-count:]

    def refresh(self) -> None:
        """Redraw from ``status()``."""
        self.picture.value = aurora_html(self.control.status(), sorted(self.slow))
        unit = "ticks" if self.simulated else "ms"
        self.spark.value = f"commit latency ({unit}): " + sparkline(self.latencies)
        body = "".join(
            f"<tr><td>{html.escape(label)}</td><td>{'yes' if w else 'NO'}</td>"
            f"<td>{'yes' if r else 'NO'}</td><td>{html.escape(d)}</td></tr>"
            for label, w, r, d in self.rows
        )
        self.table.value = (
            "<table class='distlab-aurora-availability'><tr><th>down</th><th>writes</th>"
            f"<th>reads</th><th>why not</th></tr>{body}</table>"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
