"""ChainView: a chain drawn left to right, with crash / cut-off buttons and the manager's log.

What it is: one card per chain node, head (头节点) on the left, tail (尾节点) on the right,
arrows for the direction writes travel; each card shows the node's role, its clean (干净)
keys and dirty (脏) versions, the updates it has applied and knows committed, and the reads
it has served (CRAQ spreads them; chain replication piles them on the tail). A node the
configuration manager has removed, or that is still joining, is drawn apart, after the
chain. Under the cards: the manager's epoch and every change of the chain it has made
(the reconfiguration log), shown as it happens.

Buttons call the methods a test calls -- ``crash``, ``restart``, ``isolate``, ``heal`` on a
`distlab.sim.World` or a `distlab.cluster.Cluster` -- then redraw from ``status()``. On a
World, "Run 1 s" lets one virtual second pass (with a `ChainWorkload`'s clients busy, if
given). How the chain looks is `chain_html`, a pure function of the statuses.
What it must never do: hold protocol logic.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from distlab.widgets.live import LiveRefresh

__all__ = ["ChainView", "chain_html"]

MANAGER = "n0"
_ROLE_COLOURS = {
    "head": "#1565c0",
    "middle": "#455a64",
    "tail": "#2e7d32",
    "head+tail": "#6a1b9a",
    "joining": "#ef6c00",
    "outside": "#9e9e9e",
}


def _card(name: str, state: str, fields: Mapping[str, Any]) -> str:
    role = str(fields.get("role", "?")) if state == "up" else state
    colour = _ROLE_COLOURS.get(role, "#c62828")
    rows = [
        ("clean keys", fields.get("clean_keys", "-")),
        ("dirty versions", fields.get("dirty_versions", "-")),
        ("applied / committed", f"{fields.get('applied', '-')} / {fields.get('committed', '-')}"),
        ("reads served", fields.get("reads_served", "-")),
        ("asked the tail", fields.get("reads_asked_tail", "-")),
        ("epoch", fields.get("epoch", "-")),
    ]
    body = "".join(
        f"<tr><td style='color:#616161;padding-right:6px'>{html.escape(label)}</td>"
        f"<td><b>{html.escape(str(value))}</b></td></tr>"
        for label, value in rows
    )
    return (
        f"<div class='distlab-chain-node' data-node='{html.escape(name)}' "
        f"data-role='{html.escape(role)}' style='border:2px solid {colour};border-radius:6px;"
        f"min-width:150px;font-size:12px;{'opacity:0.5;' if state != 'up' else ''}'>"
        f"<div style='background:{colour};color:white;padding:2px 6px'><b>{html.escape(name)}"
        f"</b> · {html.escape(role.upper())}</div><table style='margin:4px'>{body}</table></div>"
    )


def chain_html(statuses: Mapping[str, Any]) -> str:
    """The chain as HTML: the manager's chain left to right, then nodes outside it."""
    manager = statuses.get(MANAGER)
    manager_fields = dict(getattr(manager, "fields", {}) or {})
    chain = list(manager_fields.get("chain") or [])
    if not chain:  # no manager (the teaching switch), or it is down: the nodes' own views
        views = [list(s.fields.get("chain") or []) for n, s in statuses.items() if n != MANAGER]
        chain = max(views, key=len, default=[])
    others = [n for n in statuses if n != MANAGER and n not in chain]
    parts = []
    for index, name in enumerate(chain):
        if index:
            parts.append("<div style='align-self:center;font-size:22px'>&#10142;</div>")
        status = statuses.get(name)
        parts.append(
            _card(name, getattr(status, "state", "crashed"), status.fields if status else {})
        )
    if others:
        parts.append("<div style='align-self:center;margin:0 8px;color:#9e9e9e'>|</div>")
        for name in others:
            status = statuses[name]
            parts.append(_card(name, status.state, status.fields))
    epoch = manager_fields.get("epoch", "?")
    manager_state = getattr(manager, "state", "?")
    header = (
        f"<div class='distlab-chain-header'>configuration manager {MANAGER}: "
        f"<b>{html.escape(str(manager_state))}</b>, epoch <b>{html.escape(str(epoch))}</b>, "
        f"chain <b>{html.escape(' → '.join(chain) or '(none)')}</b> "
        "(writes enter at the head, on the left; the tail, on the right, commits)</div>"
    )
    cards = f"<div style='display:flex;gap:6px;flex-wrap:wrap'>{''.join(parts)}</div>"
    return header + cards


class ChainView(LiveRefresh):
    """The panel (see the module docstring). ``control`` is a World or a Cluster."""

    live_interval_s = 0.5
    live_thread_name = "chain-view"

    def __init__(self, control: Any, *, workload: Any = None) -> None:
        self.control = control
        self.workload = workload
        self.reconfigurations: list[str] = []
        self._last: tuple[int, tuple[str, ...]] | None = None
        self._lock = threading.Lock()
        names = [name for name in control.names if name != MANAGER]
        self.picture = widgets.HTML()
        self.log = widgets.HTML()
        self.crash = {n: widgets.Button(description=f"Crash {n}") for n in names}
        self.restart = {n: widgets.Button(description=f"Restart {n}") for n in names}
        self.isolate = {n: widgets.Button(description=f"Cut off {n}") for n in names}
        self.heal = widgets.Button(description="Heal network")
        self.refresh_button = widgets.Button(description="Refresh")
        for name in names:
            self.crash[name].on_click(lambda _, n=name: self._act(control.crash, n))
            self.restart[name].on_click(lambda _, n=name: self._act(control.restart, n))
            self.isolate[name].on_click(lambda _, n=name: self._act(control.isolate, n))
        self.heal.on_click(lambda _: self._act(control.heal))
        self.refresh_button.on_click(lambda _: self.refresh())
        controls = [self.heal, self.refresh_button]
        if hasattr(control, "run_for"):
            self.run_button = widgets.Button(description="Run 1 s")
            self.run_button.on_click(lambda _: self.run(1.0))
            controls.insert(0, self.run_button)
        rows = [widgets.HBox([self.crash[n], self.restart[n], self.isolate[n]]) for n in names]
        self.widget = widgets.VBox([self.picture, *rows, widgets.HBox(controls), self.log])
        self.widget.add_class("distlab-chain-view")
        self.refresh()

    def _act(self, action: Any, *args: Any) -> None:
        action(*args)
        self.refresh()

    def run(self, seconds: float) -> None:
        """Let virtual time pass on a World (clients busy if a workload was given)."""
        ticks = max(1, round(seconds * getattr(self.control, "ticks_per_second", 100)))
        if self.workload is not None:
            self.workload.run_for(ticks)
        else:
            self.control.run_for(ticks)
        self.refresh()

    def refresh(self) -> None:
        """Redraw from ``status()``, and log any change of the manager's chain."""
        statuses = self.control.status()
        with self._lock:
            manager = statuses.get(MANAGER)
            fields = dict(getattr(manager, "fields", {}) or {})
            if fields.get("epoch"):
                now = (int(fields["epoch"]), tuple(fields.get("chain") or ()))
                if now != self._last:
                    self._last = now
                    self.reconfigurations.append(f"epoch {now[0]}: {' → '.join(now[1])}")
            self.picture.value = chain_html(statuses)
            items = "".join(f"<li>{html.escape(r)}</li>" for r in self.reconfigurations[-8:])
            self.log.value = f"<b>the manager's reconfigurations</b><ul>{items}</ul>"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
