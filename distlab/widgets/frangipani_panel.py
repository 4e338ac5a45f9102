"""FrangipaniPanel: workstations' caches and locks, the lock server's queue, and a revoke live.

What it is: a panel over a seeded `distlab.frangipani.FrangipaniLab` (server ``n0``,
workstations ``n1`` ``n2``): a card per workstation (alive or crashed, held locks, cached
files marked clean or dirty, log entries not yet on the disk), the lock server's table
(holders, the queue of waiters, locks being revoked), the latest events (a revoke, the log
append and the write-back it forces, a recovery), and the verdict -- the linearizability
checker on every read and write the panel did, and whether the directory matches the files.

Controls: pick a workstation, a file and a value; Write, Read, Sync; Crash, Restart, Cut
off (a partition: its lease runs out), Heal, Run 1 s; and the teaching switch "write back on
revoke" (unticking it starts a fresh run with the broken protocol).

It holds no protocol logic: each button calls what a test calls (``lab.write``,
``lab.crash``). Tests drive it with ``panel.write_button.click()`` and read
``panel.verdict.value``, ``panel.cards`` and ``panel.lock_table.value``.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from distlab.frangipani.lab import FrangipaniLab

__all__ = ["FrangipaniPanel"]


class FrangipaniPanel(widgets.VBox):
    """The panel (module docstring). ``seed`` makes every run of it the same."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.write_back = widgets.Checkbox(value=True, description="write back on revoke")
        self.write_back.observe(lambda _change: self.reset(), names="value")
        self.workstation = widgets.Dropdown(
            options=["n1", "n2"], value="n1", description="workstation"
        )
        self.path = widgets.Text(value="/a", description="file")
        self.value = widgets.Text(value="v1", description="value")
        self.write_button = widgets.Button(description="Write")
        self.read_button = widgets.Button(description="Read")
        self.sync_button = widgets.Button(description="Sync")
        self.crash_button = widgets.Button(description="Crash", button_style="danger")
        self.restart_button = widgets.Button(description="Restart")
        self.cut_button = widgets.Button(description="Cut off")
        self.heal_button = widgets.Button(description="Heal")
        self.run_button = widgets.Button(description="Run 1 s")
        self.write_button.on_click(lambda _b: self._try(self._write))
        self.read_button.on_click(lambda _b: self._try(self._read))
        self.sync_button.on_click(lambda _b: self._try(lambda: self.lab.sync(self._ws())))
        self.crash_button.on_click(lambda _b: self._try(lambda: self.lab.crash(self._ws())))
        self.restart_button.on_click(lambda _b: self._try(lambda: self.lab.restart(self._ws())))
        self.cut_button.on_click(lambda _b: self._try(lambda: self.lab.isolate(self._ws())))
        self.heal_button.on_click(lambda _b: self._try(self.lab_heal))
        self.run_button.on_click(lambda _b: self._try(lambda: self.lab.run(100)))
        self.cards = {name: widgets.HTML() for name in ("n1", "n2")}
        self.lock_table = widgets.HTML()
        self.events = widgets.HTML()
        self.answer = widgets.HTML()
        self.verdict = widgets.HTML()
        super().__init__(
            [
                self.write_back,
                widgets.HBox([*self.cards.values(), self.lock_table]),
                widgets.HBox([self.workstation, self.path, self.value]),
                widgets.HBox(
                    [
                        self.write_button,
                        self.read_button,
                        self.sync_button,
                        self.crash_button,
                        self.restart_button,
                        self.cut_button,
                        self.heal_button,
                        self.run_button,
                    ]
                ),
                self.answer,
                self.verdict,
                self.events,
            ]
        )
        self.add_class("distlab-frangipani-panel")  # for the browser test's locators
        self.verdict.add_class("distlab-frangipani-verdict")
        self.reset()

    # -- what the buttons do --------------------------------------------------------------

    def reset(self) -> None:
        """A fresh system; ``/a`` exists and is on the disk (created and synced by n1)."""
        self.lab = FrangipaniLab(self.seed, write_back_on_revoke=self.write_back.value)
        self.lab.create("n1", "/a", "v0")
        self.lab.sync("n1")
        self.answer.value = "<i>/a holds 'v0', created and synced by n1</i>"
        self.refresh()

    def _ws(self) -> str:
        return str(self.workstation.value)

    def _write(self) -> None:
        self.lab.write(self._ws(), self.path.value, self.value.value)
        self.answer.value = html.escape(
            f"{self._ws()} wrote {self.value.value!r} to {self.path.value} (cached, dirty)"
        )

    def _read(self) -> None:
        value = self.lab.read(self._ws(), self.path.value)
        self.answer.value = html.escape(f"{self._ws()} read {self.path.value} -> {value!r}")

    def lab_heal(self) -> None:
        self.lab.heal()

    def _try(self, action: Any) -> None:
        try:
            action()
        except FileNotFoundError:  # an operation on a missing file: say so, keep going
            self.answer.value = html.escape(f"no such file {self.path.value}")
        except (FileExistsError, ValueError, RuntimeError, TimeoutError) as error:
            self.answer.value = html.escape(f"{type(error).__name__}: {error}")
        self.refresh()

    # -- drawing --------------------------------------------------------------------------

    def refresh(self) -> None:
        for name, card in self.lab.cards().items():
            self.cards[name].value = _card(name, card)
        self.lock_table.value = _locks(self.lab.server())
        lines = [f"t={t:>4}  {node}: {what}" for t, node, what in self.lab.events[-8:]]
        self.events.value = "<pre>" + html.escape("\n".join(lines)) + "</pre>"
        verdict = self.lab.verdict()
        directory = "matches the files" if self.lab.directory_ok() else "is INCONSISTENT"
        self.verdict.value = (
            f"<b>linearizable: {verdict == 'ok'}</b> ({verdict}) · directory {directory} · "
            f"unsynced writes lost in crashes: {self.lab.lost}"
        )


def _card(name: str, card: dict[str, Any]) -> str:
    if not card["alive"]:
        return (
            f"<div class='distlab-fr-card' data-node='{name}' data-alive='false' "
            f"style='border:2px solid #c0392b;padding:6px;margin:4px;width:220px'>"
            f"<b>{name}</b> crashed</div>"
        )
    rows = []
    for key, block in card["cache"].items():
        state = "<span style='color:#c0392b'>dirty</span>" if block["dirty"] else "clean"
        rows.append(
            f"{html.escape(key)} = {html.escape(repr(block['value']))} v{block['version']} {state}"
        )
    locks = ", ".join(f"{html.escape(k)}:{m}" for k, m in card["locks"].items()) or "none"
    return (
        f"<div class='distlab-fr-card' data-node='{name}' data-alive='true' "
        f"data-dirty='{str(any(b['dirty'] for b in card['cache'].values())).lower()}' "
        f"style='border:2px solid #2b7bb9;padding:6px;margin:4px;width:220px'>"
        f"<b>{name}</b> (epoch {card['epoch']})<br>locks: {locks}<br>cache:<br>"
        + ("<br>".join(rows) or "empty")
        + f"<br>log entries not on disk: {card['unflushed']}</div>"
    )


def _locks(server: dict[str, Any]) -> str:
    rows = [
        f"<tr><td>{html.escape(name)}</td><td>{lock['mode']}</td>"
        f"<td>{', '.join(lock['holders'])}</td>"
        f"<td>{', '.join(f'{w}:{m}' for w, m in lock['queue'])}</td></tr>"
        for name, lock in sorted(server["locks"].items())
    ]
    revoking = (
        ", ".join(
            f"{ws} must give back {', '.join(locks)}"
            for ws, locks in sorted(server["revoking"].items())
        )
        or "none"
    )
    return (
        "<div style='padding:6px;margin:4px'><b>lock server</b>"
        "<table><tr><th>lock</th><th>mode</th><th>holders</th><th>queue</th></tr>"
        + "".join(rows)
        + f"</table>revoking: {html.escape(revoking)}<br>"
        f"recoveries: {server['recoveries']}</div>"
    )
