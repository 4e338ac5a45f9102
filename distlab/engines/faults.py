"""A seeded fault schedule for real engines: the engine-side twin of distlab.check.nemesis.

Same shape as `distlab.check.nemesis.Nemesis` (built for distlab's own Cluster), so both
are driven alike: :meth:`EngineNemesis.plan` is pure (seed, member names, duration -> a
list of `Fault` steps), :meth:`start` runs the steps on a thread against an `Engine`,
:meth:`stop` undoes whatever is still in force (heal, restart, resume), and every step
becomes a `NemesisEvent` stamped with the history's clock.

Actions: ``isolate`` (one member cut off from the others' raft/replication traffic),
``partition`` (groups), ``heal``, ``crash`` (kill -9) / ``restart``, ``pause`` (SIGSTOP)
/ ``resume``, and ``promote`` (Redis failover by hand). A member may be named by role
instead of by name: ``"@leader"`` or ``"@follower"`` (etcd), resolved when the step runs,
with the nemesis's seeded RNG choosing among several candidates.

Each random fault hurts one member (a minority of three) and is undone before the next.
What it must never do: use global randomness, raise out of its thread (a failed action is
recorded), or leave a fault in force after ``stop()``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ENGINE_ACTIONS", "EngineNemesis", "Fault", "NemesisEvent"]

ENGINE_ACTIONS = (
    "isolate", "partition", "heal", "crash", "restart", "pause", "resume", "promote",
)  # fmt: skip
FAULT_KINDS = ("isolate", "crash", "pause")
_UNDO = {"isolate": "heal", "crash": "restart", "pause": "resume"}
_ONE_MEMBER = ("isolate", "crash", "restart", "pause", "resume", "promote")


@dataclass(frozen=True)
class Fault:
    """One planned step: ``at_s`` seconds after start, do ``action`` to ``nodes``/``groups``."""

    at_s: float
    action: str
    nodes: tuple[str, ...] = ()
    groups: tuple[tuple[str, ...], ...] = ()

    def __post_init__(self) -> None:
        if self.action not in ENGINE_ACTIONS:
            raise ValueError(f"unknown action {self.action!r}; use one of {ENGINE_ACTIONS}")
        if self.at_s < 0:
            raise ValueError(f"a fault happens at a time >= 0, got {self.at_s}")
        if self.action in _ONE_MEMBER and len(self.nodes) != 1:
            raise ValueError(f"{self.action} names exactly one member, got {self.nodes}")
        if self.action == "partition" and len(self.groups) < 2:
            raise ValueError("a partition needs at least two groups")

    def describe(self) -> str:
        if self.action == "partition":
            return " | ".join(",".join(group) for group in self.groups)
        return ",".join(self.nodes)


@dataclass(frozen=True)
class NemesisEvent:
    """A step performed (``error`` says why it failed). ``time`` is on the history's clock."""

    time: int
    action: str
    detail: str
    error: str = ""

    def __str__(self) -> str:
        text = f"{self.action} {self.detail}".strip()
        return f"{text} (failed: {self.error})" if self.error else text


class EngineNemesis:
    """Seeded faults against an `Engine` (see the module docstring).

    ``faults``: kinds the random plan draws from; ``gap_s``: (min, max) quiet time between
    faults; ``hold_s``: how long each lasts; ``schedule``: fixed steps instead.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        faults: Sequence[str] = FAULT_KINDS,
        gap_s: tuple[float, float] = (0.5, 1.0),
        hold_s: tuple[float, float] = (1.0, 1.5),
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
        self._rng = random.Random(f"nemesis-run-{seed}")  # resolves "@role" targets
        self._steps: list[Fault] = []
        self._resolved: dict[str, str] = {}  # "@role" of an undone fault -> member chosen
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Any = None
        self._crashed: set[str] = set()
        self._paused: set[str] = set()
        self._partitioned = False

    def plan(self, names: Sequence[str], duration_s: float) -> list[Fault]:
        """The steps for ``duration_s`` seconds on members ``names`` (pure, seeded)."""
        if self.schedule is not None:
            return [step for step in self.schedule if step.at_s <= duration_s]
        names = list(names)
        if not names:
            raise ValueError("plan() needs at least one member name")
        rng = random.Random(self.seed)
        steps: list[Fault] = []
        t = rng.uniform(*self.gap_s)
        while True:
            hold = rng.uniform(*self.hold_s)
            if t + hold > duration_s:
                break
            kind = rng.choice(self.faults)
            member = rng.choice(names)
            steps.append(Fault(round(t, 3), kind, nodes=(member,)))
            undo = _UNDO[kind]
            steps.append(Fault(round(t + hold, 3), undo, nodes=() if undo == "heal" else (member,)))
            t += hold + rng.uniform(*self.gap_s)
        return steps

    def start(self, engine: Any, duration_s: float) -> EngineNemesis:
        """Run ``plan(engine.names, duration_s)`` on a background thread; returns self."""
        if self._thread is not None:
            raise RuntimeError("this nemesis was already started; make a new one per run")
        self._engine = engine
        self._steps = self.plan(list(engine.names), duration_s)
        self._thread = threading.Thread(target=self._run, name="engine-nemesis", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the schedule and undo every fault still in force."""
        if self._thread is None:
            raise RuntimeError("stop() before start()")
        self._stop.set()
        self._thread.join(timeout=timeout_s)
        if self._thread.is_alive():
            raise RuntimeError(f"the nemesis thread did not stop within {timeout_s} s")
        with self._lock:
            for name in sorted(self._paused):
                self._perform(Fault(0, "resume", nodes=(name,)))
            if self._partitioned:
                self._perform(Fault(0, "heal"))
            for name in sorted(self._crashed):
                self._perform(Fault(0, "restart", nodes=(name,)))

    @property
    def steps(self) -> list[Fault]:
        return list(self._steps)

    def _run(self) -> None:
        started = time.monotonic()
        for step in self._steps:
            if self._stop.wait(max(0.0, started + step.at_s - time.monotonic())):
                return
            with self._lock:
                self._perform(step)

    def _member(self, name: str, undo: bool) -> str:
        """A member name, or the member a role names now ("@leader", "@follower")."""
        if not name.startswith("@"):
            return name
        if undo and name in self._resolved:
            return self._resolved.pop(name)  # undo the same member the fault hit
        statuses = self._engine.status()
        role = name[1:]
        chosen = sorted(n for n, s in statuses.items() if s.fields.get("role") == role)
        if not chosen:
            raise RuntimeError(f"no member has role {role!r} now")
        member = self._rng.choice(chosen)
        self._resolved[name] = member
        return member

    def _perform(self, step: Fault) -> None:
        engine = self._engine
        action, detail, error = step.action, step.describe(), ""
        try:
            undo = action in ("restart", "resume")
            member = self._member(step.nodes[0], undo) if step.nodes else ""
            detail = member or detail
            if action == "isolate":
                engine.isolate(member)
                self._partitioned = True
            elif action == "partition":
                engine.partition(*[list(group) for group in step.groups])
                self._partitioned = True
            elif action == "heal":
                engine.heal()
                self._partitioned = False
            elif action == "crash":
                engine.crash(member)
                self._crashed.add(member)
            elif action == "restart":
                engine.restart(member)
                self._crashed.discard(member)
            elif action == "pause":
                engine.pause(member)
                self._paused.add(member)
            elif action == "resume":
                engine.resume(member)
                self._paused.discard(member)
            elif action == "promote":
                engine.promote(member)
        except Exception as failure:  # recorded, never raised out of the nemesis thread
            error = f"{type(failure).__name__}: {failure}"
        self.events.append(NemesisEvent(self.clock(), action, detail, error))
