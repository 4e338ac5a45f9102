"""TxnPanel: shard cards with lock tables and prepared transactions, the coordinator's log,
crash buttons, and the checker's verdict -- distributed transactions, live (chapter 15).

A `distlab.txn.simulated.TxnLab` (a seeded World: coordinator ``n0``, shards ``n1 ..``,
clients moving money between accounts). The panel shows, as stable text:

- each shard (分片): its committed balances, its lock table (``acct0: X by 7``), the
  transactions prepared there (waiting for the coordinator's decision) and its aborts;
- the coordinator (协调者): the tail of its durable log (``begin``, ``decide``, ``end``);
- the verdict: total money, committed / aborted transfers, the checker's verdict.

Buttons: **Run 1 s**, **Crash** / **Restart** each node, and **Prepare, then kill the
coordinator**: the blocking case of two-phase commit, where prepared shards hold their
locks until the coordinator comes back. No protocol logic lives here.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as widgets

from distlab.txn.simulated import TxnLab

__all__ = ["TxnPanel"]


class TxnPanel(widgets.VBox):
    """The panel (see the module docstring)."""

    def __init__(self, *, seed: int = 0, shards: int = 2, run_ticks: int = 100) -> None:
        self.lab = TxnLab(seed, shards=shards)
        self.run_ticks = run_ticks
        self.cards_view = widgets.HTML()
        self.verdict = widgets.HTML()
        self.run_button = widgets.Button(description="Run 1 s", button_style="primary")
        self.run_button.on_click(lambda _: self.run())
        names = self.lab.world.names
        self.crash_buttons = {n: self._button(f"Crash {n}", self.crash, n) for n in names}
        self.restart_buttons = {n: self._button(f"Restart {n}", self.restart, n) for n in names}
        self.block_button = widgets.Button(description="Prepare, then kill the coordinator")
        self.block_button.layout.width = "auto"
        self.block_button.on_click(lambda _: self.prepare_and_kill())
        buttons = widgets.HBox([self.run_button, self.block_button])
        crash_row = widgets.HBox(
            list(self.crash_buttons.values()) + list(self.restart_buttons.values())
        )
        super().__init__([buttons, crash_row, self.cards_view, self.verdict])
        self.refresh()

    def _button(self, label: str, action: Any, name: str) -> widgets.Button:
        button = widgets.Button(description=label)
        button.on_click(lambda _: action(name))
        return button

    def run(self) -> None:
        self.lab.run(self.run_ticks)
        self.refresh()

    def crash(self, name: str) -> None:
        self.lab.crash(name)
        self.refresh()

    def restart(self, name: str) -> None:
        self.lab.restart(name)
        self.lab.run(1)
        self.refresh()

    def prepare_and_kill(self) -> int:
        txid = self.lab.prepare_and_kill_coordinator()
        self.refresh()
        return txid

    def card_text(self) -> str:
        """The cards as plain text, one node per line (what tests and a browser read)."""
        lines = []
        for name, card in self.lab.cards().items():
            state = "DOWN" if card.get("down") else "up"
            if card["role"] == "coordinator":
                log = " ".join(f"{r[0]}:{r[1]}" for r in card["log"])
                lines.append(f"{name} coordinator [{state}] log: {log or '(empty)'}")
            else:
                locks = ", ".join(f"{k}: {v}" for k, v in card.get("locks", {}).items()) or "none"
                data = ", ".join(f"{k}={v}" for k, v in card["data"].items()) or "(empty)"
                prepared = card.get("prepared", "?")
                lines.append(
                    f"{name} shard [{state}] {data} | locks: {locks} | prepared: {prepared}"
                )
        return "\n".join(lines)

    def verdict_text(self) -> str:
        check = self.lab.check()
        ok = sum(t.status == "ok" for t in self.lab.history)
        failed = sum(t.status == "fail" for t in self.lab.history)
        return (
            f"money: {self.lab.total()} of {100 * self.lab.accounts} | committed {ok}, "
            f"aborted {failed} | checker: {check.verdict}"
        )

    def refresh(self) -> None:
        self.cards_view.value = (
            "<pre class='distlab-txn-cards'>" + html.escape(self.card_text()) + "</pre>"
        )
        self.verdict.value = (
            "<b class='distlab-txn-verdict'>" + html.escape(self.verdict_text()) + "</b>"
        )
