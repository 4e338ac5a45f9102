"""The nemesis: a seeded schedule of faults — crash, restart, partition, isolate, heal,
pause — run against a live cluster while clients work (Jepsen's name for it).

Three parts, kept apart so the plan can be read and tested without processes, and so one
schedule runs on real processes and in the simulator alike:

- :meth:`Nemesis.plan` is pure: from a seed, the node names and a duration it draws a list
  of :class:`Fault` steps. One fault at a time, each undone before the next, and each hurts
  at most a minority of the nodes — so a majority-based store should stay available while
  a weak store shows what it does when replicas cannot talk. A scripted list can be given
  instead (``Nemesis(schedule=[...])``), e.g. "partition midway, heal later".
- Stepping, for a driver with its own clock: :meth:`Nemesis.attach` binds a
  `distlab.core.ClusterControl` and plans; :meth:`Nemesis.advance` performs the steps due
  by a time; :meth:`Nemesis.recover` undoes everything still in force (heal, restart,
  resume) and notes when. The simulator calls these from its one thread in virtual time
  (tests/check/test_nemesis.py runs a plan against a `distlab.sim.World`).
- :meth:`Nemesis.start` does the same on a background thread in real time, against
  `distlab.cluster.Cluster` or an engine; :meth:`Nemesis.stop` ends it and recovers.

Every step it performs becomes a :class:`NemesisEvent` stamped with the same clock a
``History`` uses (``time.monotonic_ns`` by default; a World's ``now`` in the simulator), so
faults can be drawn on a timeline beside the operations.

The vocabulary is `distlab.core.FaultKind`, the one fault model: a step's ``action`` is a
FaultKind value (``"partition"``, ``"isolate"``, ``"heal"``, ``"crash"``, ``"restart"``,
``"pause"``, ``"resume"``), or ``"isolate-leader"``, which is no fault of its own but a
*targeting rule*: ISOLATE aimed at whichever node reports role "leader" when the step runs
(the first node if none does). A one-node step may also name a role instead of a node,
``"@leader"`` or ``"@follower"``, resolved when it runs (a seeded choice among several);
the undo of such a fault hits the node the fault hit.

What it must never do: use global randomness (a seed replays the plan), leave a fault in
force after ``stop()``/``recover()``, or raise out of a step (a failed action is recorded
instead). This module starts no processes itself and imports nothing from
``distlab.cluster`` or ``distlab.sim``: it acts only through the ClusterControl it is
handed (``pause``/``resume`` where the control offers them).

Extending it: a nemesis for another kind of cluster (``distlab.engines.EngineNemesis`` for
etcd and Redis) subclasses :class:`Fault` (its own ``actions``) and :class:`Nemesis`,
overriding only the hooks :meth:`Nemesis._first_step` (what one random fault is),
:meth:`Nemesis._target` (which node a step hits) and :meth:`Nemesis._apply` (extra
actions); planning, stepping, the runner thread, ``stop()`` and the undo bookkeeping stay
here.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from distlab.core import ClusterControl, FaultKind, NodeId, derive_seed

__all__ = [
    "ACTIONS",
    "FAULT_KINDS",
    "ISOLATE_LEADER",
    "UNDO",
    "Fault",
    "Nemesis",
    "NemesisEvent",
    "NemesisStatistics",
]

ISOLATE_LEADER = "isolate-leader"
"""A targeting rule, not a fault: FaultKind.ISOLATE aimed at the node whose role is "leader"
when the step runs (the first node if none is)."""

_TARGETING_RULES: dict[str, tuple[FaultKind, str]] = {
    ISOLATE_LEADER: (FaultKind.ISOLATE, "@leader")
}

ACTIONS: tuple[str, ...] = (
    FaultKind.PARTITION.value,
    ISOLATE_LEADER,
    FaultKind.ISOLATE.value,
    FaultKind.HEAL.value,
    FaultKind.CRASH.value,
    FaultKind.RESTART.value,
    FaultKind.PAUSE.value,
    FaultKind.RESUME.value,
)
"""What a step of this nemesis may do."""

FAULT_KINDS: tuple[str, ...] = (
    FaultKind.PARTITION.value,
    ISOLATE_LEADER,
    FaultKind.ISOLATE.value,
    FaultKind.CRASH.value,
    FaultKind.PAUSE.value,
)
"""What a random plan may draw (each followed by its undo)."""

UNDO: dict[FaultKind, FaultKind] = {
    FaultKind.PARTITION: FaultKind.HEAL,
    FaultKind.ISOLATE: FaultKind.HEAL,
    FaultKind.CRASH: FaultKind.RESTART,
    FaultKind.PAUSE: FaultKind.RESUME,
}
"""The fault that undoes each fault a plan may draw."""

_N = TypeVar("_N", bound="Nemesis")


@dataclass(frozen=True)
class Fault:
    """One planned step: at ``at_s`` seconds after start, do ``action``.

    ``action`` is a `FaultKind` (or its value) or a targeting rule such as
    ``"isolate-leader"``; it is kept as the plain string, the name events show. ``nodes``
    names the node (or ``"@role"``) of crash / restart / pause / resume / isolate;
    ``groups`` the sides of a partition.
    """

    # What a subclass for another kind of cluster changes (not dataclass fields):
    actions: ClassVar[tuple[str, ...]] = ACTIONS
    one_node: ClassVar[tuple[str, ...]] = (
        FaultKind.ISOLATE.value,
        FaultKind.CRASH.value,
        FaultKind.RESTART.value,
        FaultKind.PAUSE.value,
        FaultKind.RESUME.value,
    )
    noun: ClassVar[str] = "node"  # how error messages call a node

    at_s: float
    action: str
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        # A FaultKind member becomes its value: events, reprs and comparisons see one string.
        object.__setattr__(self, "action", getattr(self.action, "value", self.action))
        if self.action not in self.actions:
            raise ValueError(f"unknown nemesis action {self.action!r}; use one of {self.actions}")
        if self.at_s < 0:
            raise ValueError(f"a fault happens at a time >= 0, got {self.at_s}")
        if self.action in self.one_node and len(self.nodes) != 1:
            raise ValueError(f"{self.action} names exactly one {self.noun}, got {self.nodes}")
        if self.action == FaultKind.PARTITION and len(self.groups) < 2:
            raise ValueError("a partition needs at least two groups")

    @property
    def kind(self) -> FaultKind:
        """The fault of the model this step is (``"isolate-leader"`` is ISOLATE)."""
        rule = _TARGETING_RULES.get(self.action)
        return rule[0] if rule is not None else FaultKind(self.action)

    @property
    def target(self) -> str:
        """The node or ``"@role"`` a one-node step aims at ("" for partition and heal)."""
        if self.nodes:
            return self.nodes[0]
        rule = _TARGETING_RULES.get(self.action)
        return rule[1] if rule is not None else ""

    def describe(self) -> str:
        if self.action == FaultKind.PARTITION:
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
    """A seeded fault injector for any `ClusterControl` (see the module docstring).

    ``faults`` chooses which kinds :meth:`plan` draws from; ``gap_s`` is the (min, max)
    quiet time between faults and ``hold_s`` how long each fault lasts. ``schedule`` replaces
    the random plan with fixed steps. ``clock`` stamps the events (the history's clock).
    """

    # What a subclass for another kind of cluster changes:
    fault_class: ClassVar[type[Fault]] = Fault  # the steps it plans and undoes
    fault_kinds: ClassVar[tuple[str, ...]] = FAULT_KINDS  # what plan() may draw
    undo_of: ClassVar[dict[FaultKind, FaultKind]] = UNDO  # a fault -> the fault undoing it
    thread_name: ClassVar[str] = "nemesis"

    def __init__(
        self,
        seed: int = 0,
        *,
        faults: Sequence[str] = (FaultKind.PARTITION.value, FaultKind.CRASH.value),
        gap_s: tuple[float, float] = (0.5, 1.5),
        hold_s: tuple[float, float] = (1.0, 2.0),
        schedule: Iterable[Fault] | None = None,
        clock: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        faults = tuple(getattr(kind, "value", kind) for kind in faults)
        unknown = set(faults) - set(self.fault_kinds)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; use {self.fault_kinds}")
        if not faults and schedule is None:
            raise ValueError("a nemesis needs fault kinds or a schedule")
        for name, (low, high) in (("gap_s", gap_s), ("hold_s", hold_s)):
            if not 0 <= low <= high:
                raise ValueError(f"{name} is (min, max) with 0 <= min <= max, got {(low, high)}")
        self.seed = seed
        self.faults = faults
        self.gap_s = gap_s
        self.hold_s = hold_s
        self.schedule = None if schedule is None else sorted(schedule, key=lambda f: f.at_s)
        self.clock = clock
        self.events: list[NemesisEvent] = []
        self.recovered_at: int | None = None
        self._steps: list[Fault] = []
        self._next_step = 0  # index into _steps of the first step not performed yet
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._control: ClusterControl | None = None
        # Its own stream, apart from the plan's: resolving "@role" targets at run time must
        # not change which faults a seed plans.
        self._target_rng = random.Random(derive_seed(seed, "nemesis", "targets"))
        self._resolved: dict[str, NodeId] = {}  # "@role" of a fault in force -> node it hit
        self._crashed: set[NodeId] = set()
        self._paused: set[NodeId] = set()
        self._partitioned = False

    # -- the plan (pure) -----------------------------------------------------------------
    def plan(self, names: Sequence[NodeId], duration_s: float) -> list[Fault]:
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
            undo = self.undo_of[fault.kind]
            nodes = () if undo is FaultKind.HEAL else fault.nodes
            steps += [fault, self.fault_class(round(t + hold, 3), undo, nodes=nodes)]
            t += hold + rng.uniform(*self.gap_s)
        return steps

    def _first_step(self, rng: random.Random, kind: str, names: list[str], at_s: float) -> Fault:
        """The fault of ``kind`` a random plan starts at ``at_s`` (its undo is planned after).

        A hook for subclasses; draws from ``rng`` only, so the plan stays seeded.
        """
        make = self.fault_class
        if kind in (FaultKind.PARTITION, ISOLATE_LEADER, FaultKind.ISOLATE) and len(names) < 2:
            kind = FaultKind.CRASH.value  # one node cannot be cut off from anybody
        if kind == FaultKind.PARTITION:
            minority = max(1, (len(names) - 1) // 2)
            size = rng.randint(1, minority)
            small = tuple(sorted(rng.sample(names, size)))
            large = tuple(name for name in names if name not in small)
            return make(at_s, kind, groups=(small, large))
        if kind == ISOLATE_LEADER:
            return make(at_s, kind)
        return make(at_s, kind, nodes=(rng.choice(names),))

    # -- stepping: any driver, any clock -------------------------------------------------
    def attach(self, control: ClusterControl, duration_s: float) -> list[Fault]:
        """Bind to ``control`` and plan a run of ``duration_s`` seconds; returns the steps.

        A driver with its own clock (the simulator) then calls :meth:`advance` as its time
        moves and :meth:`recover` at the end; :meth:`start` does both on a thread.
        """
        if self._control is not None:
            raise RuntimeError("this Nemesis was already started; make a new one per run")
        self._control = control
        self._steps = self.plan(list(control.names), duration_s)
        return list(self._steps)

    def advance(self, elapsed_s: float) -> list[NemesisEvent]:
        """Perform, in order, every planned step due by ``elapsed_s`` seconds after the start
        that has not run yet; returns their events."""
        if self._control is None:
            raise RuntimeError("advance() before attach() or start()")
        performed = []
        with self._lock:
            while (
                self._next_step < len(self._steps)
                and self._steps[self._next_step].at_s <= elapsed_s
            ):
                step = self._steps[self._next_step]
                self._next_step += 1
                performed.append(self._perform(step))
        return performed

    def recover(self) -> None:
        """Undo every fault still in force (resume, heal, restart) and note when."""
        if self._control is None:
            raise RuntimeError("recover() before attach() or start()")
        with self._lock:
            undo = self.fault_class
            for name in sorted(self._paused):
                self._perform(undo(0, FaultKind.RESUME, nodes=(name,)))
            if self._partitioned:
                self._perform(undo(0, FaultKind.HEAL))
            for name in sorted(self._crashed):
                self._perform(undo(0, FaultKind.RESTART, nodes=(name,)))
            self.recovered_at = self.clock()

    # -- running against a cluster in real time ------------------------------------------
    def start(self: _N, control: ClusterControl, duration_s: float) -> _N:
        """Run ``plan(control.names, duration_s)`` on a background thread; returns self."""
        self.attach(control, duration_s)
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the schedule, then undo every fault still in force (heal, restart, resume)."""
        if self._thread is None:
            raise RuntimeError("stop() before start()")
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            raise RuntimeError(f"the nemesis thread did not stop within {timeout_s} s")
        self.recover()

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
            # Never before the step's time, even if the wait woke a hair early.
            self.advance(max(step.at_s, time.monotonic() - started))

    def _perform(self, step: Fault) -> NemesisEvent:
        detail, error = step.describe(), ""
        try:
            detail = self._apply(step) or detail
        except Exception as failure:  # recorded, never raised out of the nemesis
            error = f"{type(failure).__name__}: {failure}"
        event = NemesisEvent(self.clock(), step.action, detail, error)
        self.events.append(event)
        return event

    # -- the hooks -----------------------------------------------------------------------
    def _target(self, step: Fault) -> NodeId:
        """The node a one-node step hits: its node, or the node holding the role it names."""
        target = step.target
        if not target.startswith("@"):
            return target
        undoing = step.action in (FaultKind.RESTART, FaultKind.RESUME)  # promote: no kind
        if undoing and target in self._resolved:
            return self._resolved.pop(target)  # undo on the node the fault hit
        role = target[1:]
        if step.action == ISOLATE_LEADER:
            # The rule's promise: some node is cut off even when none reports being leader
            # (or a status call fails mid-fault), so the run still sees a partition.
            try:
                holders = self._holders(role)
            except Exception:
                holders = []
            return holders[0] if holders else self._require_control().names[0]
        holders = self._holders(role)
        if not holders:
            raise RuntimeError(f"no {self.fault_class.noun} has role {role!r} now")
        chosen = self._target_rng.choice(holders)
        self._resolved[target] = chosen
        return chosen

    def _holders(self, role: str) -> list[NodeId]:
        statuses = self._require_control().status()
        return sorted(name for name, view in statuses.items() if view.fields.get("role") == role)

    def _require_control(self) -> ClusterControl:
        if self._control is None:
            raise RuntimeError("this Nemesis is not attached to a cluster")
        return self._control

    def _apply(self, step: Fault) -> str:
        """Do one step to the cluster; returns the event's detail ("" keeps the step's own).

        A hook: a subclass handles its extra actions, then calls this for the rest.
        """
        control, kind = self._require_control(), step.kind
        if kind is FaultKind.PARTITION:
            control.partition(*[list(group) for group in step.groups])
            self._partitioned = True
            return ""
        if kind is FaultKind.HEAL:
            control.heal()
            self._partitioned = False
            return ""
        node = self._target(step)
        if kind is FaultKind.ISOLATE:
            # As a partition {node} | the rest, which every ClusterControl offers with this
            # meaning; an engine whose isolate is narrower (etcd: raft traffic only) has its
            # own EngineNemesis.
            others = [name for name in control.names if name != node]
            control.partition([node], others)
            self._partitioned = True
            return f"{node} | {','.join(others)}"
        if kind is FaultKind.CRASH:
            control.crash(node)
            self._crashed.add(node)
        elif kind is FaultKind.RESTART:
            control.restart(node)
            self._crashed.discard(node)
        elif kind is FaultKind.PAUSE:
            _optional(control, "pause")(node)
            self._paused.add(node)
        elif kind is FaultKind.RESUME:
            _optional(control, "resume")(node)
            self._paused.discard(node)
        else:
            raise ValueError(f"{type(self).__name__} cannot perform {step.action!r}")
        return node


def _optional(control: ClusterControl, verb: str) -> Callable[[NodeId], Any]:
    """A control verb beyond ClusterControl (pause, resume): real processes have them; the
    simulator does not, and a step asking for one fails (recorded) rather than pretends."""
    method = getattr(control, verb, None)
    if method is None:
        raise NotImplementedError(f"{type(control).__name__} cannot {verb} a node")
    return method
