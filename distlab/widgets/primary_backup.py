"""PrimaryBackupPanel: two machines, the logging channel between them, and buttons to break it.

What it is: a panel over a seeded simulated pair (`distlab.primary_backup.pb_world`): a
card per replica (role, epoch, instruction counter, log position, its digest), a bar for
how far the backup's replay lags behind the primary's log, the arbiter's flag, and a
verdict line -- the linearizability checker's answer on everything the panel's client did,
and the named rules broken so far. Buttons: send a request, let time pass, crash the
primary, restart what is down, cut or heal the logging channel; three tick boxes switch the
rules (output rule, logged non-determinism, test-and-set) for a fresh run.

It holds no protocol logic: each button calls what a test calls (``world.crash``,
``SimClient.append``, ``world.block``). Tests drive it with ``panel.crash_button.click()``
and read ``panel.verdict.value`` and ``panel.cards``.
"""

from __future__ import annotations

import html
import itertools
from typing import Any

import ipywidgets as widgets

from distlab.check import History, check_linearizable
from distlab.primary_backup import (
    ARBITER,
    REPLICAS,
    PrimaryBackupSim,
    ReplicaConfig,
    Rules,
    SimClient,
    pb_world,
)

__all__ = ["PrimaryBackupPanel"]

_COLOURS = {"primary": "#2b7bb9", "live": "#2e8b57", "backup": "#888", "stopped": "#c0392b"}


class PrimaryBackupPanel(widgets.VBox):
    """The panel (module docstring). ``seed`` makes every run of it the same."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.output_rule = widgets.Checkbox(value=True, description="output rule")
        self.log_nondeterminism = widgets.Checkbox(value=True, description="log non-determinism")
        self.test_and_set = widgets.Checkbox(value=True, description="test-and-set")
        for box in (self.output_rule, self.log_nondeterminism, self.test_and_set):
            box.observe(lambda _change: self.reset(), names="value")
        self.request_button = widgets.Button(description="Send a request")
        self.run_button = widgets.Button(description="Run 0.5 s")
        self.crash_button = widgets.Button(description="Crash the primary", button_style="danger")
        self.restart_button = widgets.Button(description="Restart crashed")
        self.cut_button = widgets.Button(description="Cut logging channel")
        self.heal_button = widgets.Button(description="Heal")
        self.request_button.on_click(lambda _b: self.send_request())
        self.run_button.on_click(lambda _b: self.run(50))
        self.crash_button.on_click(lambda _b: self.crash_primary())
        self.restart_button.on_click(lambda _b: self.restart_crashed())
        self.cut_button.on_click(lambda _b: self.cut())
        self.heal_button.on_click(lambda _b: self.heal())
        self.cards = {name: widgets.HTML() for name in REPLICAS}
        self.lag = widgets.IntProgress(value=0, min=0, max=1, description="backup replayed")
        self.arbiter = widgets.HTML()
        self.verdict = widgets.HTML()
        self.events = widgets.HTML()
        super().__init__(
            [
                widgets.HBox([self.output_rule, self.log_nondeterminism, self.test_and_set]),
                widgets.HBox(list(self.cards.values())),
                widgets.HBox([self.lag, self.arbiter]),
                widgets.HBox(
                    [
                        self.request_button,
                        self.run_button,
                        self.crash_button,
                        self.restart_button,
                        self.cut_button,
                        self.heal_button,
                    ]
                ),
                self.verdict,
                self.events,
            ]
        )
        self.add_class("distlab-primary-backup-panel")  # for the browser test's locators
        self.verdict.add_class("distlab-pb-verdict")
        self.reset()

    # -- what the buttons do ------------------------------------------------------------------

    def reset(self) -> None:
        """A fresh pair with the ticked rules (switching a rule restarts the experiment)."""
        rules = Rules(
            output_rule=self.output_rule.value,
            log_nondeterminism=self.log_nondeterminism.value,
            test_and_set=self.test_and_set.value,
        )
        self.world = pb_world(self.seed, ReplicaConfig(rules=rules), enforce=False)
        self.system: PrimaryBackupSim = self.world.system  # type: ignore[assignment]
        self.history = History(self.world.history_clock())
        self.client = SimClient(self.world, "learner", self.history, deadline_s=1.0)
        self._count = itertools.count(1)
        self.happenings: list[str] = []
        self.refresh()

    def send_request(self) -> None:
        """The learner's client appends the next number to ``x`` and reads it back."""
        number = next(self._count)
        try:
            self.client.append("x", f"{number},")
            value = self.client.get("x")
            self.happenings.append(f"append {number} -> x = {value!r}")
        except TimeoutError:
            self.happenings.append(f"append {number}: no reply (nobody live?)")
        self.refresh()

    def run(self, ticks: int) -> None:
        self.world.run_for(ticks)
        self.refresh()

    def crash_primary(self) -> None:
        for name in REPLICAS:
            core = self.world.nodes[name]
            if core is not None and core.role in ("primary", "live"):
                self.world.crash(name)
                self.happenings.append(f"crashed {name}")
                break
        self.refresh()

    def restart_crashed(self) -> None:
        for name in REPLICAS:
            if not self.world.alive(name):
                self.world.restart(name)
                self.happenings.append(f"restarted {name} (it must be cloned)")
        self.refresh()

    def cut(self) -> None:
        self.world.block("n0", "n1")
        self.world.block("n1", "n0")
        self.happenings.append("logging channel cut (both still reach the arbiter)")
        self.refresh()

    def heal(self) -> None:
        self.world.heal()
        self.happenings.append("healed")
        self.refresh()

    # -- drawing ------------------------------------------------------------------------------

    def refresh(self) -> None:
        statuses = self.world.status()
        leader_last = 0
        for name in REPLICAS:
            fields = statuses[name].fields
            if fields.get("role") in ("primary", "live"):
                leader_last = max(leader_last, fields["last_index"])
        for name in REPLICAS:
            self.cards[name].value = self._card(name, statuses[name].fields)
            if statuses[name].fields.get("role") == "backup":
                self.lag.max = max(1, leader_last)
                self.lag.value = min(statuses[name].fields["replayed_index"], self.lag.max)
        arbiter = statuses[ARBITER].fields
        holder = arbiter.get("holder") or "nobody"
        self.arbiter.value = (
            f"&nbsp; arbiter (shared disk): epoch {arbiter.get('epoch')}, flag held by {holder}"
        )
        check = check_linearizable(self.history, timeout_s=5)
        broken = ", ".join(v.rule for v in self.system.violations) or "none"
        self.verdict.value = (
            f"<b>linearizable: {check.linearizable}</b> &nbsp; rules broken: {html.escape(broken)}"
            f" &nbsp; duplicate replies dropped: {self.system.duplicate_replies}"
        )
        self.events.value = "<br>".join(html.escape(line) for line in self.happenings[-6:])

    @staticmethod
    def _card(name: str, fields: dict[str, Any]) -> str:
        if not fields:
            return (
                f"<div class='distlab-pb-card' data-node='{name}' data-role='crashed' "
                f"style='border:2px dashed #c0392b;padding:6px;margin:4px;width:230px'>"
                f"<b>{name}</b>: crashed</div>"
            )
        role = fields["role"]
        colour = _COLOURS.get(role, "#888")
        return (
            f"<div class='distlab-pb-card' data-node='{name}' data-role='{role}' "
            f"style='border:2px solid {colour};padding:6px;margin:4px;width:230px'>"
            f"<b>{name}</b> · <span style='color:{colour}'>{role}</span> · epoch {fields['epoch']}"
            f"<br>instructions: {fields['instructions']}"
            f"<br>log: {fields['last_index']} &nbsp; acked: {fields['acked_index']}"
            f" &nbsp; replayed: {fields['replayed_index']}"
            f"<br>held replies: {fields['held_replies']} &nbsp; state {fields['digest'][:8]}</div>"
        )
