"""GFSPanel: the master and chunkserver cards, crash / restart / isolate buttons, an Append
button, and every replica drawn as coloured record blocks.

What it is: the chapter 06 panel for a running GFS cluster (``Cluster.start(4,
service="gfs")``). The master's card lists each chunk: its file and index, its version,
the up-to-date replicas, the stale ones and the lease holder (★). Each chunkserver's card
lists the chunks it holds with their versions. Below the cards, each chunk's replicas are
drawn side by side, one bar per replica, a block per record coloured by its id -- so a
duplicate shows as the same colour twice, padding as a grey hatch, bytes that are no whole
record (a failed attempt) in red, and a stale replica is labelled as such. Buttons call the
same methods a test calls (``cluster.crash("n2")``, ``client.append_record(...)``); appends
run in a background thread so a slow retry never freezes the notebook.

The drawing is done by pure functions (`chunk_table_html`, `replica_strip_html`) of status
fields and bytes, tested without a browser. What it must never do: hold GFS logic.
Where it fits: notebooks/06_gfs.ipynb; tests/gfs/test_panel.py and tests/browser/test_gfs.py.
"""

from __future__ import annotations

import contextlib
import html
import threading
import time
import zlib
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

import ipywidgets as widgets

from distlab.gfs import GFSClient, GFSConfig, scan_records

__all__ = ["GFSPanel", "chunk_table_html", "replica_strip_html"]

_PALETTE = ("#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#00acc1", "#6d4c41", "#3949ab",
            "#c0ca33", "#d81b60", "#00897b")  # fmt: skip
_DOWN = "#c62828"
_HATCH = "background:repeating-linear-gradient(45deg,#e0e0e0,#e0e0e0 3px,#bdbdbd 3px,#bdbdbd 6px)"


def _colour(record_id: str) -> str:
    return _PALETTE[zlib.crc32(record_id.encode()) % len(_PALETTE)]


def chunk_table_html(table: list[Mapping[str, Any]]) -> str:
    """The master's view: one row per chunk (file, index, handle, version, replicas, stale,
    primary)."""
    head = "".join(
        f"<th style='text-align:left;padding:0 8px 0 0'>{h}</th>"
        for h in ("file", "chunk", "handle", "version", "up-to-date replicas", "stale", "primary")
    )
    rows = []
    for row in table:
        primary = f"★ {row['primary']}" if row.get("primary") else "—"
        cells = (
            row["path"],
            row["index"],
            row["handle"],
            f"v{row['version']}",
            ", ".join(row["replicas"]) or "none",
            ", ".join(row.get("stale", [])) or "—",
            primary,
        )
        rows.append(
            "<tr>"
            + "".join(f"<td style='padding:0 8px 0 0'>{html.escape(str(c))}</td>" for c in cells)
            + "</tr>"
        )
    return (
        "<table class='distlab-gfs-chunks' style='border-collapse:collapse;font-size:12px'>"
        f"<tr>{head}</tr>{''.join(rows) or '<tr><td>no chunks yet</td></tr>'}</table>"
    )


def replica_strip_html(
    label: str, data: bytes, chunk_size: int, *, stale: bool = False, seen: set[str] | None = None
) -> str:
    """One replica as a bar ``chunk_size`` wide: a block per whole record (coloured by id,
    outlined in black when ``seen`` already holds the id: a duplicate), grey hatching for
    padding, red for bytes that are no whole record."""
    seen = set() if seen is None else seen
    blocks = []
    position = 0

    def gap(start: int, end: int) -> None:
        if end <= start:
            return
        zeros = data[start:end].count(0) == end - start
        style = _HATCH if zeros else f"background:{_DOWN}"
        kind = "padding" if zeros else "not a whole record"
        blocks.append(_block(start, end, chunk_size, style, f"{kind}: bytes {start}-{end}", kind))

    for record in scan_records(data):
        gap(position, record.offset)
        duplicate = record.record_id in seen
        seen.add(record.record_id)
        border = "outline:2px solid #000;outline-offset:-2px;" if duplicate else ""
        again = " (duplicate)" if duplicate else ""
        title = f"{record.record_id}{again}: bytes {record.offset}-{record.end}"
        kind = "duplicate" if duplicate else "record"
        blocks.append(
            _block(
                record.offset,
                record.end,
                chunk_size,
                f"background:{_colour(record.record_id)};{border}",
                title,
                kind,
            )
        )
        position = record.end
    gap(position, len(data))
    tag = " <b style='color:#c62828'>stale</b>" if stale else ""
    return (
        f"<div class='distlab-gfs-replica' data-replica='{html.escape(label)}' "
        "style='display:flex;align-items:center;margin:1px 0'>"
        f"<span style='width:120px;font-size:12px'>{html.escape(label)}{tag}</span>"
        "<div style='position:relative;height:16px;flex:1;background:#fafafa;"
        f"border:1px solid #9e9e9e'>{''.join(blocks)}</div></div>"
    )


def _block(start: int, end: int, size: int, style: str, title: str, kind: str) -> str:
    left, width = 100 * start / size, max(0.3, 100 * (end - start) / size)
    return (
        f"<div class='distlab-gfs-block' data-kind='{kind}' title='{html.escape(title)}' "
        f"style='position:absolute;left:{left:.3f}%;width:{width:.3f}%;top:0;bottom:0;{style}'>"
        "</div>"
    )


def _card_html(name: str, status: Any) -> str:
    fields = status.fields if status.alive else {}
    state = status.state
    colour = "#2e7d32" if status.alive else _DOWN
    role = fields.get("role", "master" if name == "n0" else "chunkserver")
    lines = []
    if not status.alive:
        lines.append(
            f"<i>{html.escape(state)}: its process is {'dead' if state == 'crashed' else state}</i>"
        )
    elif role == "master":
        lines.append(f"{fields.get('files', 0)} file(s), {fields.get('chunks', 0)} chunk(s)")
        lines.append(
            f"leases granted {fields.get('leases_granted', 0)}, stale found "
            f"{fields.get('stale_replicas_found', 0)}, copies {fields.get('copies_done', 0)}"
        )
    else:
        primary = set(fields.get("primary_of", []))
        for handle, (version, length) in fields.get("held", {}).items():
            star = " ★ primary" if int(handle) in primary else ""
            lines.append(f"chunk {handle}: v{version}, {length} B{star}")
        if not fields.get("held"):
            lines.append("no chunks")
    banner = "● UP" if status.alive else "✖ " + state.upper()
    body = "<br>".join(html.escape(line) if not line.startswith("<i>") else line for line in lines)
    return (
        f"<div class='distlab-gfs-card' data-node='{name}' data-state='{state}' "
        f"style='border:1px solid {colour};border-radius:4px;font-size:12px;min-height:70px'>"
        f"<div style='background:{colour};color:#fff;padding:2px 6px'><b>{name}</b> · "
        f"{html.escape(str(role))} <b class='distlab-state'>{banner}</b></div>"
        f"<div style='padding:3px 6px'>{body}</div></div>"
    )


class _GFSCard(widgets.VBox):
    def __init__(self, panel: GFSPanel, name: str) -> None:
        self.name = name
        self.info = widgets.HTML()
        self.crash = widgets.Button(description="Crash", tooltip="SIGKILL the process")
        self.restart = widgets.Button(description="Restart", tooltip="start it again from its disk")
        self.isolate = widgets.Button(description="Isolate", tooltip="cut it off from the others")
        self.crash.on_click(lambda _b: panel.act(lambda c: c.crash(name)))
        self.restart.on_click(lambda _b: panel.act(lambda c: c.restart(name)))
        self.isolate.on_click(lambda _b: panel.act(lambda c: c.isolate(name)))
        for button in (self.crash, self.restart, self.isolate):
            button.layout = widgets.Layout(width="70px")
        super().__init__(
            [self.info, widgets.HBox([self.crash, self.restart, self.isolate])],
            layout=widgets.Layout(width="240px", margin="2px"),
        )

    def show(self, status: Any) -> None:
        self.info.value = _card_html(self.name, status)
        self.crash.disabled = not status.alive
        self.restart.disabled = status.alive


class GFSPanel(widgets.VBox):
    """A live view of a GFS cluster with fault and append buttons (see the module docstring)."""

    def __init__(self, cluster: Any, path: str = "/log", *, client: Any = None) -> None:
        self.cluster = cluster
        self.path = path
        self.client = client if client is not None else GFSClient(cluster, name="panel")
        self.config: GFSConfig = self.client.config
        self._lock = threading.Lock()
        self._appended = 0
        self.pending: Future | None = None
        self.cards = {name: _GFSCard(self, name) for name in cluster.names}
        self.append = widgets.Button(description="Append", tooltip="record-append one record")
        self.append_ten = widgets.Button(description="Append 10", tooltip="ten records")
        self.heal = widgets.Button(description="Heal", tooltip="reconnect every node")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh")
        self.append.on_click(lambda _b: self.start_appends(1))
        self.append_ten.on_click(lambda _b: self.start_appends(10))
        self.heal.on_click(lambda _b: self.act(lambda c: c.heal()))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.chunks = widgets.HTML()
        self.replicas = widgets.HTML()
        self.message = widgets.HTML()
        super().__init__(
            [
                widgets.HBox(
                    list(self.cards.values()), layout=widgets.Layout(flex_flow="row wrap")
                ),
                widgets.HBox([self.append, self.append_ten, self.heal, self.refresh_button]),
                self.message,
                self.chunks,
                self.replicas,
            ]
        )
        self.add_class("distlab-gfs-panel")
        self.refresh()

    # -- actions ----------------------------------------------------------------------------

    def act(self, action: Any) -> None:
        """Run one cluster call, show any error, redraw."""
        try:
            action(self.cluster)
            self.message.value = ""
        except Exception as error:  # shown to the learner rather than lost in a callback
            self._say(str(error), error=True)
        self.refresh()

    def start_appends(self, count: int) -> Future:
        """Append ``count`` records in a background thread; the Future says when done."""
        future: Future = Future()
        self.pending = future

        def run() -> None:
            done = 0
            try:
                for _ in range(count):
                    with self._lock:
                        self._appended += 1
                        number = self._appended
                    self.client.append_record(
                        self.path, f"rec-{number}", b"*" * (200 + 37 * (number % 9))
                    )
                    done += 1
                self._say(f"appended {done} record(s)")
                future.set_result(done)
            except Exception as error:
                self._say(f"append failed after {done}: {error}", error=True)
                future.set_result(done)
            with contextlib.suppress(Exception):  # the cluster may be closed meanwhile
                self.refresh()

        self._say(f"appending {count} record(s)...")
        threading.Thread(target=run, name="gfs-panel-append", daemon=True).start()
        return future

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#c62828" if error else "#2e7d32"
        self.message.value = f"<span style='color:{colour}'>{html.escape(text)}</span>"

    # -- drawing ----------------------------------------------------------------------------

    def refresh(self) -> None:
        """Ask every node for its status and every live replica for its bytes; redraw."""
        statuses = self.cluster.status(timeout_s=1.0)
        for name, status in statuses.items():
            self.cards[name].show(status)
        master = statuses.get("n0")
        table = master.fields.get("table", []) if master is not None and master.alive else []
        self.chunks.value = chunk_table_html(table)
        strips = []
        for row in table:
            if row["path"] != self.path:
                continue
            strips.append(
                f"<div style='font-size:12px;margin-top:4px'><b>chunk {row['index']}</b> "
                f"(handle {row['handle']}, v{row['version']})</div>"
            )
            for name, status in sorted(statuses.items()):
                held = (
                    status.fields.get("held", {}).get(str(row["handle"])) if status.alive else None
                )
                if held is None:
                    continue
                data = self._replica_bytes(name, row["handle"])
                stale = held[0] != row["version"]
                strips.append(
                    replica_strip_html(
                        f"{name} v{held[0]}", data, self.config.chunk_size, stale=stale
                    )
                )
        self.replicas.value = "".join(strips)

    def _replica_bytes(self, node: str, handle: int) -> bytes:
        try:
            return self.client.replica_at(node, handle)[1]
        except Exception:  # down between the status call and this one, or corrupt
            return b""

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Wait for the appends started by a button (for tests and scripted cells)."""
        deadline = time.monotonic() + timeout_s
        pending = self.pending
        if pending is None:
            return True
        try:
            pending.result(timeout=max(0.0, deadline - time.monotonic()))
            return True
        except TimeoutError:
            return False
