"""ClusterPanel: one card per node, with Crash / Restart / Pause buttons and network controls.

Every button calls the same :class:`distlab.cluster.Cluster` method a test calls
(``cluster.crash("n1")``, ``cluster.partition(...)``), then redraws from ``cluster.status()``.
No cluster logic lives here. Tests drive it from Python with ``panel.cards["n1"].crash.click()``.
Live refresh (``panel.start_live()``) redraws from a background thread while work runs.
"""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets

__all__ = ["ClusterPanel", "NodeCard"]

_COLORS = {"up": "#2e7d32", "paused": "#f9a825", "unresponsive": "#ef6c00"}


class NodeCard(widgets.VBox):
    """One node: a status block and its three buttons."""

    def __init__(self, panel: ClusterPanel, name: str) -> None:
        self.name = name
        self.info = widgets.HTML()
        self.crash = widgets.Button(description="Crash", button_style="danger")
        self.restart = widgets.Button(description="Restart", button_style="success")
        self.pause = widgets.Button(description="Pause")
        for button in (self.crash, self.restart, self.pause):
            button.layout = widgets.Layout(width="80px")
        self.crash.on_click(lambda _b: panel.act(lambda c: c.crash(name)))
        self.restart.on_click(lambda _b: panel.act(lambda c: c.restart(name)))
        self.pause.on_click(lambda _b: panel.act(self._toggle_pause))
        self.state = "?"
        super().__init__(
            [self.info, widgets.HBox([self.crash, self.restart, self.pause])],
            layout=widgets.Layout(border="1px solid #ccc", padding="4px", margin="2px"),
        )

    def _toggle_pause(self, cluster: Any) -> None:
        if self.state == "paused":
            cluster.resume(self.name)
        else:
            cluster.pause(self.name)

    def show(self, status: Any) -> None:
        """Redraw from one NodeStatus."""
        self.state = status.state
        color = _COLORS.get(status.state, "#c62828")
        fields = "".join(
            f"<br>{html.escape(str(key))}: {html.escape(str(value))}"
            for key, value in status.fields.items()
        )
        pid = status.pid if status.pid is not None else "-"
        self.info.value = (
            f"<b>{html.escape(self.name)}</b> "
            f"<span style='color:{color}'>● {html.escape(status.state)}</span>"
            f"<br>pid {pid}{fields}"
        )
        running = status.state in ("up", "paused", "unresponsive")
        self.crash.disabled = not running
        self.pause.disabled = not running
        self.restart.disabled = running
        self.pause.description = "Resume" if status.state == "paused" else "Pause"


class ClusterPanel(widgets.VBox):
    """Cards for every node of a Cluster, plus partition / isolate / heal controls."""

    def __init__(self, cluster: Any) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._live: threading.Event | None = None
        self.cards = {name: NodeCard(self, name) for name in cluster.names}
        self.groups = widgets.Text(
            value=" | ".join([*cluster.names[:1], " ".join(cluster.names[1:])]),
            description="groups",
            placeholder="n0 | n1 n2",
        )
        self.partition = widgets.Button(description="Partition")
        self.heal = widgets.Button(description="Heal")
        self.message = widgets.HTML()
        self.partition.on_click(lambda _b: self.act(self._partition))
        self.heal.on_click(lambda _b: self.act(lambda c: c.heal()))
        super().__init__(
            [
                widgets.HBox(list(self.cards.values())),
                widgets.HBox([self.groups, self.partition, self.heal]),
                self.message,
            ]
        )
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
            self.message.value = f"<span style='color:#c62828'>{html.escape(str(error))}</span>"
        self.refresh()

    def refresh(self) -> None:
        """Fetch ``cluster.status()`` and redraw every card."""
        with self._lock:
            statuses = self.cluster.status(timeout=0.5)
        for name, status in statuses.items():
            self.cards[name].show(status)

    def start_live(self, interval_s: float = 1.0) -> None:
        """Redraw every ``interval_s`` seconds from a background thread."""
        self.stop_live()
        stop = self._live = threading.Event()

        def loop() -> None:
            while not stop.wait(interval_s):
                try:
                    self.refresh()
                except Exception:  # the cluster was closed under us: stop quietly
                    return

        threading.Thread(target=loop, name="cluster-panel", daemon=True).start()

    def stop_live(self) -> None:
        """Stop the live refresh."""
        if self._live is not None:
            self._live.set()
            self._live = None
