"""ClusterPanel: one card per node, with Crash / Restart / Pause buttons and network controls.

Every button calls the same :class:`distlab.cluster.Cluster` method a test calls
(``cluster.crash("n1")``, ``cluster.partition(...)``), then redraws from ``cluster.status()``.
No cluster logic lives here. Tests drive it from Python with ``panel.cards["n1"].crash.click()``.
Live refresh (``panel.start_live()``) redraws from a background thread while work runs; the
Refresh button redraws once. A summary line over the cards says how many nodes are up, who
leads (for Raft programs) and when the view was taken.

How a card looks is decided by :func:`card_html`, a pure function of one ``NodeStatus``: a
coloured state banner across the card (a crashed node gets a red "CRASHED" banner, a red
border and greyed-out text, so it is unmistakable without relying on colour alone), a
"LEADER" badge with the node's term when the node program reports ``role == "leader"``, and
the Raft fields ``term``, ``leader``, ``log_length`` and ``commit_index`` under readable names
(the simulator's ``current_term`` and ``leader_id`` read the same). Other fields a program
reports are listed after them. A leader whose term is older than one another running node
has seen is **stale** (it has not heard yet that it was replaced, e.g. just after a partition
heals): its badge says so, in grey, and the summary line marks it. The HTML carries
``data-node``, ``data-state``, ``data-role`` and ``data-stale`` attributes and the widgets carry
``distlab-*`` classes, so a browser test can find a card; nothing else depends on them.
"""

from __future__ import annotations

import html
import threading
import time
from collections.abc import Mapping
from typing import Any

import ipywidgets as widgets

from distlab.core.status import highest_term as highest_term_of
from distlab.core.status import is_stale_leader, node_term, term_label
from distlab.widgets.live import LiveRefresh

__all__ = ["ClusterPanel", "NodeCard", "card_html", "summary_html"]

# state -> (banner text, banner colour, text colour on the banner, card border)
_STATES = {
    "up": ("● UP", "#2e7d32", "#ffffff", "1px solid #bdbdbd"),
    "paused": ("❚❚ PAUSED", "#f9a825", "#212121", "2px solid #f9a825"),
    "unresponsive": ("? NOT ANSWERING", "#ef6c00", "#ffffff", "2px solid #ef6c00"),
    "crashed": ("✖ CRASHED", "#c62828", "#ffffff", "3px solid #c62828"),
    "stopped": ("■ STOPPED", "#616161", "#ffffff", "2px solid #616161"),
}
_STATE_HINTS = {
    "up": "running and answering",
    "paused": "frozen by SIGSTOP; Resume wakes it",
    "unresponsive": "running, but did not answer the status call in time",
    "crashed": "down: its process is dead",
    "stopped": "down: the cluster is closed",
}
_RUNNING = ("up", "paused", "unresponsive")
# Raft's fields (paper, Figure 2), shown first and under these names.
_RAFT_FIELDS = {
    "term": ("term", "current term: the latest election this node has seen"),
    "leader": ("leader", "who this node believes is the leader"),
    "log_length": ("log length", "entries in this node's log"),
    "commit_index": ("commit index", "highest log index known to be committed"),
}
# The simulator's Raft core reports Figure 2's names; a card shows them like a real node's.
_ALIASES = {"current_term": "term", "leader_id": "leader"}
_HIDDEN = {"node_id"}  # the card's title already says it
_ROLE_BADGES = {
    "leader": ("★ LEADER", "#ffca28", "#212121"),
    "candidate": ("CANDIDATE", "#bbdefb", "#0d47a1"),
    "follower": ("follower", "#eeeeee", "#424242"),
}
_CARD_WIDTH = "236px"
_BUTTON_WIDTH = "72px"


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "—"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(item) for item in value) or "—"
    return str(value)


def _badge(text: str, background: str, color: str, css_class: str) -> str:
    return (
        f"<span class='{css_class}' style='background:{background};color:{color};"
        "padding:1px 7px;border-radius:9px;font-weight:bold;font-size:12px;"
        f"white-space:nowrap'>{html.escape(text)}</span>"
    )


def _row(label: str, value: Any, title: str = "", minor: bool = False) -> str:
    # Minor rows (a Raft node's extra counters) are smaller, so term/leader/log stand out.
    size = "font-size:12px;line-height:1.3;" if minor else ""
    weight = "normal" if minor else "bold"
    return (
        f"<tr title='{html.escape(title)}' style='{size}'>"
        f"<td style='color:#616161;padding:0 8px 0 0;white-space:nowrap'>"
        f"{html.escape(label)}</td>"
        f"<td style='font-weight:{weight};overflow-wrap:anywhere'>"
        f"{html.escape(_value_text(value))}</td></tr>"
    )


def _readable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields under the card's names (``current_term`` -> ``term``), minus the node id."""
    shown: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _HIDDEN:
            continue
        name = _ALIASES.get(key, key)
        if name not in shown:
            shown[name] = value
    return shown


def _role_badge(fields: Mapping[str, Any], highest: int | None) -> str:
    role = str(fields.get("role", ""))
    term = node_term(fields)
    text, background, colour = _ROLE_BADGES.get(role, (role, "#eeeeee", "#424242"))
    title = ""
    css = "distlab-leader-badge" if role == "leader" else "distlab-role-badge"
    if is_stale_leader(fields, highest):
        text, background, colour = "LEADER · STALE", "#e0e0e0", "#616161"
        css = "distlab-stale-leader-badge"
        title = (
            f"it still believes it leads term {term}, but another node has seen term {highest}: "
            "it has been replaced and steps down as soon as it hears of the newer term"
        )
    if term is not None:
        text += f" · term {term}"
    badge = _badge(text, background, colour, css)
    return f"<span title='{html.escape(title)}'>{badge}</span>" if title else badge


def card_html(
    name: str,
    state: str,
    pid: int | None,
    fields: Mapping[str, Any],
    last_fields: Mapping[str, Any] | None = None,
    highest_term: int | None = None,
) -> str:
    """The HTML of one node's card: state banner, role badge (with the term), then its fields.

    ``last_fields`` are the fields the node reported while it was last up; for a node that is
    down they give a grey "was leader, term 3" line, because the learner just crashed it.
    ``highest_term`` is the highest term any running node reports: a leader below it is
    marked stale.
    """
    fields = _readable(fields)
    banner, background, color, _border = _STATES.get(
        state, (state.upper(), "#c62828", "#ffffff", "3px solid #c62828")
    )
    running = state in _RUNNING
    role = str(fields.get("role", "")) if running else ""
    stale = "yes" if running and is_stale_leader(fields, highest_term) else "no"
    parts = [
        f"<div class='distlab-node' data-node='{html.escape(name)}' "
        f"data-state='{html.escape(state)}' data-role='{html.escape(role)}' "
        f"data-stale='{stale}' "
        "style='line-height:1.45;font-size:13px'>",
        # The banner: the node's name and its state, full width, in the state's colour.
        f"<div title='{html.escape(_STATE_HINTS.get(state, state))}' "
        f"style='background:{background};color:{color};padding:3px 8px;border-radius:3px;"
        "display:flex;justify-content:space-between;align-items:center'>"
        f"<b style='font-size:15px'>{html.escape(name)}</b>"
        f"<b class='distlab-state'>{html.escape(banner)}</b></div>",
    ]
    body_style = "padding:4px 2px 0 2px" + ("" if running else ";color:#757575")
    parts.append(f"<div style='{body_style}'>")
    if running:
        if role:
            parts.append(
                f"<div style='margin:2px 0 4px 0'>{_role_badge(fields, highest_term)}</div>"
            )
        rows = [
            _row(label, fields[key], title)
            for key, (label, title) in _RAFT_FIELDS.items()
            if key in fields
        ]
        minor = bool(rows)
        rows += [
            _row(str(key).replace("_", " "), value, minor=minor)
            for key, value in fields.items()
            if key != "role" and key not in _RAFT_FIELDS
        ]
        rows.append(_row("pid", pid, "operating-system process id", minor=minor))
        parts.append("<table style='border-collapse:collapse'>" + "".join(rows) + "</table>")
    else:
        parts.append(f"<div>{html.escape(_STATE_HINTS.get(state, state))}</div>")
        last = _readable(last_fields or {})
        if last.get("role"):
            was = f"was {last['role']}"
            if "term" in last:
                was += f", term {last['term']}"
            parts.append(f"<div style='font-style:italic'>{html.escape(was)}</div>")
    parts.append("</div></div>")
    return "".join(parts)


class NodeCard(widgets.VBox):
    """One node: a status block and its three buttons."""

    def __init__(self, panel: ClusterPanel, name: str) -> None:
        self.name = name
        self.info = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.crash = widgets.Button(
            description="Crash", button_style="danger", tooltip="kill -9 this node's process"
        )
        self.restart = widgets.Button(
            description="Restart",
            button_style="success",
            tooltip="start a fresh process on the same data directory",
        )
        self.pause = widgets.Button(description="Pause", tooltip="freeze it (SIGSTOP)")
        for button in (self.crash, self.restart, self.pause):
            button.layout = widgets.Layout(width=_BUTTON_WIDTH)
        self.crash.on_click(lambda _b: panel.act(lambda c: c.crash(name)))
        self.restart.on_click(lambda _b: panel.act(lambda c: c.restart(name)))
        self.pause.on_click(lambda _b: panel.act(self._toggle_pause))
        self.state = "?"
        self.last_fields: dict[str, Any] = {}
        super().__init__(
            [self.info, widgets.HBox([self.crash, self.restart, self.pause])],
            layout=widgets.Layout(
                border=_STATES["up"][3], padding="4px", margin="3px", width=_CARD_WIDTH
            ),
        )
        self.add_class("distlab-node-card")

    def _toggle_pause(self, cluster: Any) -> None:
        if self.state == "paused":
            cluster.resume(self.name)
        else:
            cluster.pause(self.name)

    def show(self, status: Any, highest_term: int | None = None) -> None:
        """Redraw from one NodeStatus (``highest_term``: see `card_html`)."""
        self.state = status.state
        running = status.state in _RUNNING
        if running and status.fields:
            self.last_fields = dict(status.fields)
        self.info.value = card_html(
            self.name, status.state, status.pid, status.fields, self.last_fields, highest_term
        )
        self.layout.border = _STATES.get(status.state, _STATES["crashed"])[3]
        self.crash.disabled = not running
        self.pause.disabled = not running
        self.restart.disabled = running
        self.pause.description = "Resume" if status.state == "paused" else "Pause"
        self.pause.tooltip = (
            "wake it (SIGCONT)" if status.state == "paused" else "freeze it (SIGSTOP)"
        )


def summary_html(statuses: Mapping[str, Any], when: str = "") -> str:
    """One line over the cards: how many nodes are up, for Raft programs who leads (in which
    term; a stale leader says so), and when."""
    up = sum(1 for status in statuses.values() if status.state == "up")
    text = f"{up} of {len(statuses)} nodes up"
    if any("role" in status.fields for status in statuses.values()):
        highest = highest_term_of(statuses)
        leaders = [
            f"{name} ({term_label(status.fields, highest)})"
            if node_term(status.fields) is not None
            else name
            for name, status in statuses.items()
            if status.state == "up" and status.fields.get("role") == "leader"
        ]
        if not leaders:
            text += " · no leader right now"
        else:
            text += (" · leader: " if len(leaders) == 1 else " · leaders: ") + ", ".join(leaders)
    stamp = f" <span style='color:#757575'>· as of {html.escape(when)}</span>" if when else ""
    return f"<b class='distlab-summary' style='font-size:13px'>{html.escape(text)}</b>{stamp}"


class ClusterPanel(LiveRefresh, widgets.VBox):
    """Cards for every node of a cluster, plus partition / isolate / heal controls.

    Any `distlab.core.ClusterControl` works: real processes (`distlab.cluster.Cluster`) or a
    simulated `distlab.sim.World` (then a "Run 1 s" button lets virtual time pass).
    """

    live_thread_name = "cluster-panel"

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self.cards = {name: NodeCard(self, name) for name in cluster.names}
        self.summary = widgets.HTML()
        self.groups = widgets.Text(
            value=" | ".join([*cluster.names[:1], " ".join(cluster.names[1:])]),
            description="network groups",
            placeholder="n0 | n1 n2",
            tooltip="nodes in the same group can talk; | separates the groups",
            style={"description_width": "initial"},
            layout=widgets.Layout(width="280px"),
        )
        self.partition = widgets.Button(
            description="Partition", tooltip="cut the network between the groups"
        )
        self.heal = widgets.Button(description="Heal", tooltip="reconnect every node")
        self.refresh_button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="ask every node for its status now"
        )
        # A simulated cluster (distlab.sim.World) has no time of its own: this button lets a
        # virtual second pass. Real processes need no such button.
        self.simulated = hasattr(cluster, "run_for") and hasattr(cluster, "ticks_per_second")
        self.advance = widgets.Button(
            description="Run 1 s", icon="play", tooltip="let one virtual second pass"
        )
        self.advance.on_click(lambda _b: self.act(lambda c: c.run_for(c.ticks_per_second)))
        for button in (self.partition, self.heal, self.refresh_button, self.advance):
            button.layout = widgets.Layout(width="90px")
        hint = widgets.HTML(
            "<span style='color:#616161;font-size:12px'>groups are separated by |</span>"
        )
        self.message = widgets.HTML()
        self.partition.on_click(lambda _b: self.act(self._partition))
        self.heal.on_click(lambda _b: self.act(lambda c: c.heal()))
        self.refresh_button.on_click(lambda _b: self.act(lambda _c: None))
        super().__init__(
            [
                self.summary,
                # Wrap instead of overflowing: five cards do not fit beside a file browser.
                widgets.HBox(
                    list(self.cards.values()), layout=widgets.Layout(flex_flow="row wrap")
                ),
                widgets.HBox(
                    [self.groups, self.partition, self.heal, hint, self.refresh_button]
                    + ([self.advance] if self.simulated else []),
                    layout=widgets.Layout(flex_flow="row wrap", align_items="center"),
                ),
                self.message,
            ]
        )
        self.add_class("distlab-cluster-panel")
        self.refresh()

    def _partition(self, cluster: Any) -> None:
        groups = [group.split() for group in self.groups.value.split("|") if group.strip()]
        cluster.partition(*groups)

    def act(self, action: Any) -> None:
        """Run one cluster call, show any error, redraw."""
        try:
            with self._lock:
                action(self.cluster)
            self.message.value = ""
        except Exception as error:  # shown to the learner rather than lost in a callback
            self._show_error(error)
        try:
            self.refresh()
        except Exception as error:  # e.g. the cluster was closed: say so on the panel
            self._show_error(error)

    def _show_error(self, error: Exception) -> None:
        self.message.value = f"<span style='color:#c62828'>{html.escape(str(error))}</span>"

    def refresh(self) -> None:
        """Fetch ``cluster.status()`` and redraw every card."""
        with self._lock:
            statuses = self.cluster.status(timeout_s=0.5)
        highest = highest_term_of(statuses)
        for name, status in statuses.items():
            self.cards[name].show(status, highest)
        when = f"tick {self.cluster.now}" if self.simulated else time.strftime("%H:%M:%S")
        self.summary.value = summary_html(statuses, when)
