"""The nemesis: a seeded schedule of faults — crash, restart, partition, heal, pause — run
against a live cluster while clients work (Jepsen's name for it).

Two halves, kept apart so the plan can be read and tested without processes:

- :meth:`Nemesis.plan` is pure: from a seed, the node names and a duration it draws a list
  of :class:`Fault` steps. One fault at a time, each undone before the next, and each hurts
  at most a minority of the nodes — so a majority-based store should stay available while
  a weak store shows what it does when replicas cannot talk. A scripted list can be given
  instead (``Nemesis(schedule=[...])``), e.g. "partition midway, heal later".
- :meth:`Nemesis.start` runs the steps on a background thread against any object with the
  ``distlab.cluster.Cluster`` control methods (``crash``, ``restart``, ``partition``,
  ``heal``, ``pause``, ``resume``, ``status``, ``names``). :meth:`Nemesis.stop` then undoes
  everything still in force (heal, restart, resume) and notes when that happened.

Every step it performs becomes a :class:`NemesisEvent` stamped with the same clock a
``History`` uses (``time.monotonic_ns`` by default), so faults can be drawn on a timeline
beside the operations. Actions (kinds of Fault):

``partition`` (groups), ``isolate-leader`` (cut off whichever node reports role "leader"
at that moment — the first node if none does), ``heal``, ``crash`` / ``restart`` (node),
``pause`` / ``resume`` (node).

What it must never do: use global randomness (a seed replays the plan), leave a fault in
force after ``stop()``, or raise out of its thread (a failed action is recorded instead).
This module starts no processes itself and imports nothing from ``distlab.cluster``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ACTIONS", "Fault", "Nemesis", "NemesisEvent", "NemesisStatistics"]

ACTIONS = ("partition", "isolate-leader", "heal", "crash", "restart", "pause", "resume")
FAULT_KINDS = ("partition", "isolate-leader", "crash", "pause")
_UNDO = {"partition": "heal", "isolate-leader": "heal", "crash": "restart", "pause": "resume"}


@dataclass(frozen=True)
class Fault:
    """One planned step: at ``at_s`` seconds after start, do ``action``.

    ``nodes`` names the node of crash / restart / pause / resume; ``groups`` the sides of a
    partition.
    """

    at_s: float
    action: str
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown nemesis action {self.action!r}; use one of {ACTIONS}")
        if self.at_s < 0:
            raise ValueError(f"a fault happens at a time >= 0, got {self.at_s}")
        if self.action in ("crash", "restart", "pause", "resume") and len(self.nodes) != 1:
            raise ValueError(f"{self.action} names exactly one node, got {self.nodes}")
        if self.action == "partition" and len(self.groups) < 2:
            raise ValueError("a partition needs at least two groups")

    def describe(self) -> str:
        if self.action == "partition":
            return " | ".join(",".join(group) for group in self.groups)
        return ",".join(self.nodes)


@dataclass(frozen=True)
class NemesisEvent:
    """A step the nemesis performed (or tried to: ``error`` says why it failed)."""

    time: int  # on the history's clock (monotonic ns by default)
    action: str
    detail: str
    error: str = ""

    def __str__(self) -> str:
        text = f"{self.action} {self.detail}".strip()
        return f"{text} (failed: {self.error})" if self.error else text


@dataclass(frozen=True)
class NemesisStatistics:
    planned: int
    performed: int
    failed: int
    running: bool
    recovered_at: int | None  # when stop() had undone every fault (history clock)


class Nemesis:
    """A seeded fault injector for a Cluster (see the module docstring).

    ``faults`` chooses which kinds :meth:`plan` draws from; ``gap_s`` is the (min, max)
    quiet time between faults and ``hold_s`` how long each fault lasts. ``schedule`` replaces
    the random plan with fixed steps.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        faults: Sequence[str] = ("partition", "crash"),
        gap_s: tuple[float, float] = (0.5, 1.5),
        hold_s: tuple[float, float] = (1.0, 2.0),
        schedule: Iterable[Fault] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        unknown = set(faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {FAULT_KINDS}")
        if not faults and schedule is None:
            raise ValueError("a nemesis needs fault kinds or a schedule")
        for name, (low, high) in (("gap_s", gap_s), ("hold_s", hold_s)):
            if not 0 <= low <= high:
                raise ValueError(f"{name} is (min, max) with 0 <= min <= max, got {(low, high)}")
        self.seed = seed
        self.faults = tuple(faults)
        self.gap_s = gap_s
        self.hold_s = hold_s
        self.schedule = None if schedule is None else sorted(schedule, key=lambda f: f.at_s)
        self.clock = clock
        self.events: list[NemesisEvent] = []
        self.recovered_at: int | None = None
        self._steps: list[Fault] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cluster: Any = None
        self._crashed: set[str] = set()
        self._paused: set[str] = set()
        self._partitioned = False

    # -- the plan (pure) -----------------------------------------------------------------
    def plan(self, names: Sequence[str], duration_s: float) -> list[Fault]:
        """The steps for a run of ``duration_s`` seconds on nodes ``names`` (seeded, pure).

        Faults alternate with quiet gaps; each is undone after its hold time, and none is
        started so late that it could not be undone before ``duration_s``.
        """
        if self.schedule is not None:
            return [step for step in self.schedule if step.at_s <= duration_s]
        names = list(names)
        if not names:
            raise ValueError("plan() needs at least one node name")
        rng = random.Random(self.seed)
        steps: list[Fault] = []
        t = rng.uniform(*self.gap_s)
        while True:
            hold = rng.uniform(*self.hold_s)
            if t + hold > duration_s:
                break
            kind = rng.choice(self.faults)
            if kind in ("partition", "isolate-leader") and len(names) < 2:
                kind = "crash"
            if kind == "partition":
                minority = max(1, (len(names) - 1) // 2)
                size = rng.randint(1, minority)
                small = tuple(sorted(rng.sample(names, size)))
                large = tuple(name for name in names if name not in small)
                steps.append(Fault(round(t, 3), "partition", groups=(small, large)))
            elif kind == "isolate-leader":
                steps.append(Fault(round(t, 3), "isolate-leader"))
            else:
                steps.append(Fault(round(t, 3), kind, nodes=(rng.choice(names),)))
            undo = steps[-1]
            steps.append(Fault(round(t + hold, 3), _UNDO[kind], nodes=undo.nodes))
            t += hold + rng.uniform(*self.gap_s)
        return steps

    # -- running against a cluster -------------------------------------------------------
    def start(self, cluster: Any, duration_s: float) -> Nemesis:
        """Run ``plan(cluster.names, duration_s)`` on a background thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("this Nemesis was already started; make a new one per run")
        self._cluster = cluster
        self._steps = self.plan(list(cluster.names), duration_s)
        self._thread = threading.Thread(target=self._run, name="nemesis", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 60.0) -> None:
        """Stop the schedule, then undo every fault still in force (heal, restart, resume)."""
        if self._thread is None:
            raise RuntimeError("stop() before start()")
        self._stop.set()
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"the nemesis thread did not stop within {timeout} s")
        with self._lock:
            for name in sorted(self._paused):
                self._perform(Fault(0, "resume", nodes=(name,)))
            if self._partitioned:
                self._perform(Fault(0, "heal"))
            for name in sorted(self._crashed):
                self._perform(Fault(0, "restart", nodes=(name,)))
            self.recovered_at = self.clock()

    @property
    def steps(self) -> list[Fault]:
        """The steps planned for this run (after ``start``)."""
        return list(self._steps)

    def statistics(self) -> NemesisStatistics:
        with self._lock:
            failed = sum(bool(event.error) for event in self.events)
            return NemesisStatistics(
                planned=len(self._steps),
                performed=len(self.events) - failed,
                failed=failed,
                running=self._thread is not None and self._thread.is_alive(),
                recovered_at=self.recovered_at,
            )

    def _run(self) -> None:
        started = time.monotonic()
        for step in self._steps:
            if self._stop.wait(max(0.0, started + step.at_s - time.monotonic())):
                return
            with self._lock:
                self._perform(step)

    def _perform(self, step: Fault) -> None:
        cluster = self._cluster
        action, detail, error = step.action, step.describe(), ""
        try:
            if action == "partition":
                cluster.partition(*[list(group) for group in step.groups])
                self._partitioned = True
            elif action == "isolate-leader":
                leader = self._leader(cluster)
                others = [name for name in cluster.names if name != leader]
                cluster.partition([leader], others)
                self._partitioned = True
                detail = f"{leader} | {','.join(others)}"
            elif action == "heal":
                cluster.heal()
                self._partitioned = False
            elif action == "crash":
                cluster.crash(step.nodes[0])
                self._crashed.add(step.nodes[0])
            elif action == "restart":
                cluster.restart(step.nodes[0])
                self._crashed.discard(step.nodes[0])
            elif action == "pause":
                cluster.pause(step.nodes[0])
                self._paused.add(step.nodes[0])
            elif action == "resume":
                cluster.resume(step.nodes[0])
                self._paused.discard(step.nodes[0])
        except Exception as failure:  # recorded, never raised out of the nemesis thread
            error = f"{type(failure).__name__}: {failure}"
        self.events.append(NemesisEvent(self.clock(), action, detail, error))

    @staticmethod
    def _leader(cluster: Any) -> str:
        try:
            for name, status in cluster.status().items():
                if status.fields.get("role") == "leader":
                    return name
        except Exception:  # a status call failing mid-fault: fall back to the first node
            pass
        return cluster.names[0]
