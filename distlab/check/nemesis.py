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

Extending it: a nemesis for another kind of cluster (``distlab.engines.EngineNemesis`` for
etcd and Redis) subclasses :class:`Fault` (its own ``actions``) and :class:`Nemesis`,
overriding only the hooks :meth:`Nemesis._first_step` (what one random fault is),
:meth:`Nemesis._target` (which node a step hits) and :meth:`Nemesis._apply` (extra
actions); planning, the runner thread, ``stop()`` and the undo bookkeeping stay here.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

__all__ = ["ACTIONS", "Fault", "Nemesis", "NemesisEvent", "NemesisStatistics"]

ACTIONS = ("partition", "isolate-leader", "heal", "crash", "restart", "pause", "resume")
FAULT_KINDS = ("partition", "isolate-leader", "crash", "pause")
_UNDO = {"partition": "heal", "isolate-leader": "heal", "crash": "restart", "pause": "resume"}
_N = TypeVar("_N", bound="Nemesis")


@dataclass(frozen=True)
class Fault:
    """One planned step: at ``at_s`` seconds after start, do ``action``.

    ``nodes`` names the node of crash / restart / pause / resume; ``groups`` the sides of a
    partition.
    """

    # What a subclass for another kind of cluster changes (not dataclass fields):
    actions: ClassVar[tuple[str, ...]] = ACTIONS
    one_node: ClassVar[tuple[str, ...]] = ("crash", "restart", "pause", "resume")
    noun: ClassVar[str] = "node"  # how error messages call a node

    at_s: float
    action: str
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.action not in self.actions:
            raise ValueError(f"unknown nemesis action {self.action!r}; use one of {self.actions}")
        if self.at_s < 0:
            raise ValueError(f"a fault happens at a time >= 0, got {self.at_s}")
        if self.action in self.one_node and len(self.nodes) != 1:
            raise ValueError(f"{self.action} names exactly one {self.noun}, got {self.nodes}")
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

    # What a subclass for another kind of cluster changes:
    fault_class: ClassVar[type[Fault]] = Fault  # the steps it plans and undoes
    fault_kinds: ClassVar[tuple[str, ...]] = FAULT_KINDS  # what plan() may draw
    undo_of: ClassVar[dict[str, str]] = _UNDO  # fault action -> the action that undoes it
    thread_name: ClassVar[str] = "nemesis"

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
        unknown = set(faults) - set(self.fault_kinds)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {self.fault_kinds}")
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
            raise ValueError(f"plan() needs at least one {self.fault_class.noun} name")
        rng = random.Random(self.seed)
        steps: list[Fault] = []
        t = rng.uniform(*self.gap_s)
        while True:
            hold = rng.uniform(*self.hold_s)
            if t + hold > duration_s:
                break
            fault = self._first_step(rng, rng.choice(self.faults), names, round(t, 3))
            undo = self.undo_of[fault.action]
            nodes = () if undo == "heal" else fault.nodes
            steps += [fault, self.fault_class(round(t + hold, 3), undo, nodes=nodes)]
            t += hold + rng.uniform(*self.gap_s)
        return steps

    def _first_step(self, rng: random.Random, kind: str, names: list[str], at_s: float) -> Fault:
        """The fault of ``kind`` a random plan starts at ``at_s`` (its undo is planned after).

        A hook for subclasses; draws from ``rng`` only, so the plan stays seeded.
        """
        if kind in ("partition", "isolate-leader") and len(names) < 2:
            kind = "crash"
        if kind == "partition":
            minority = max(1, (len(names) - 1) // 2)
            size = rng.randint(1, minority)
            small = tuple(sorted(rng.sample(names, size)))
            large = tuple(name for name in names if name not in small)
            return Fault(at_s, "partition", groups=(small, large))
        if kind == "isolate-leader":
            return Fault(at_s, "isolate-leader")
        return Fault(at_s, kind, nodes=(rng.choice(names),))

    # -- running against a cluster -------------------------------------------------------
    def start(self: _N, cluster: Any, duration_s: float) -> _N:
        """Run ``plan(cluster.names, duration_s)`` on a background thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("this Nemesis was already started; make a new one per run")
        self._cluster = cluster
        self._steps = self.plan(list(cluster.names), duration_s)
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
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
            undo = self.fault_class
            for name in sorted(self._paused):
                self._perform(undo(0, "resume", nodes=(name,)))
            if self._partitioned:
                self._perform(undo(0, "heal"))
            for name in sorted(self._crashed):
                self._perform(undo(0, "restart", nodes=(name,)))
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
        detail, error = step.describe(), ""
        try:
            detail = self._apply(step) or detail
        except Exception as failure:  # recorded, never raised out of the nemesis thread
            error = f"{type(failure).__name__}: {failure}"
        self.events.append(NemesisEvent(self.clock(), step.action, detail, error))

    def _target(self, step: Fault) -> str:
        """The node a one-node step hits (a hook: a subclass may resolve roles here)."""
        return step.nodes[0]

    def _apply(self, step: Fault) -> str:
        """Do one step to the cluster; returns the event's detail ("" keeps the step's own).

        A hook: a subclass handles its extra actions, then calls this for the rest.
        """
        cluster, action = self._cluster, step.action
        node = self._target(step) if step.nodes else ""
        if action == "partition":
            cluster.partition(*[list(group) for group in step.groups])
            self._partitioned = True
        elif action == "isolate-leader":
            leader = self._leader(cluster)
            others = [name for name in cluster.names if name != leader]
            cluster.partition([leader], others)
            self._partitioned = True
            return f"{leader} | {','.join(others)}"
        elif action == "heal":
            cluster.heal()
            self._partitioned = False
        elif action == "crash":
            cluster.crash(node)
            self._crashed.add(node)
        elif action == "restart":
            cluster.restart(node)
            self._crashed.discard(node)
        elif action == "pause":
            cluster.pause(node)
            self._paused.add(node)
        elif action == "resume":
            cluster.resume(node)
            self._paused.discard(node)
        else:
            raise ValueError(f"{type(self).__name__} cannot perform {action!r}")
        return node

    @staticmethod
    def _leader(cluster: Any) -> str:
        try:
            for name, status in cluster.status().items():
                if status.fields.get("role") == "leader":
                    return name
        except Exception:  # a status call failing mid-fault: fall back to the first node
            pass
        return cluster.names[0]
