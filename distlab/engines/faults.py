"""A seeded fault schedule for real engines: `distlab.check.nemesis.Nemesis` taught engine moves.

`EngineNemesis` is a subclass of the nemesis built for distlab's own Cluster, so both are
driven alike and share one runner: :meth:`EngineNemesis.plan` is pure (seed, member names,
duration -> a list of `Fault` steps), :meth:`start` runs the steps on a thread against an
`Engine`, :meth:`stop` undoes whatever is still in force (heal, restart, resume), and every
step becomes a `NemesisEvent` stamped with the history's clock. This module adds only what
differs for engines, through the base class's hooks:

- Actions: ``isolate`` (one member cut off from the others' raft/replication traffic),
  ``partition`` (groups), ``heal``, ``crash`` (kill -9) / ``restart``, ``pause`` (SIGSTOP)
  / ``resume``, and ``promote`` (Redis failover by hand).
- Role targets: a member may be named by role instead of by name, ``"@leader"`` or
  ``"@follower"`` (etcd), resolved when the step runs, with the nemesis's seeded RNG
  choosing among several candidates; the undo of a fault hits the member the fault hit.

Each random fault hurts one member (a minority of three) and is undone before the next.
What it must never do: use global randomness, raise out of its thread (a failed action is
recorded), or leave a fault in force after ``stop()``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from distlab.check import nemesis as check_nemesis
from distlab.check.nemesis import NemesisEvent

__all__ = ["ENGINE_ACTIONS", "EngineNemesis", "Fault", "NemesisEvent"]

ENGINE_ACTIONS = (
    "isolate", "partition", "heal", "crash", "restart", "pause", "resume", "promote",
)  # fmt: skip
FAULT_KINDS = ("isolate", "crash", "pause")
_UNDO = {"isolate": "heal", "crash": "restart", "pause": "resume"}
_ONE_MEMBER = ("isolate", "crash", "restart", "pause", "resume", "promote")


class Fault(check_nemesis.Fault):
    """One planned step: ``at_s`` seconds after start, do ``action`` to ``nodes``/``groups``.

    ``nodes`` holds a member name or a role (``"@leader"``, ``"@follower"``).
    """

    actions: ClassVar[tuple[str, ...]] = ENGINE_ACTIONS
    one_node: ClassVar[tuple[str, ...]] = _ONE_MEMBER
    noun: ClassVar[str] = "member"


class EngineNemesis(check_nemesis.Nemesis):
    """Seeded faults against an `Engine` (see the module docstring).

    ``faults``: kinds the random plan draws from; ``gap_s``: (min, max) quiet time between
    faults; ``hold_s``: how long each lasts; ``schedule``: fixed steps instead.
    """

    fault_class: ClassVar[type[check_nemesis.Fault]] = Fault
    fault_kinds: ClassVar[tuple[str, ...]] = FAULT_KINDS
    undo_of: ClassVar[dict[str, str]] = _UNDO
    thread_name: ClassVar[str] = "engine-nemesis"

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
        super().__init__(
            seed, faults=faults, gap_s=gap_s, hold_s=hold_s, schedule=schedule, clock=clock
        )
        self._rng = random.Random(f"nemesis-run-{seed}")  # resolves "@role" targets
        self._resolved: dict[str, str] = {}  # "@role" of an undone fault -> member chosen

    def stop(self, timeout_s: float = 60.0) -> None:
        """Stop the schedule and undo every fault still in force."""
        super().stop(timeout_s)

    def _first_step(self, rng: random.Random, kind: str, names: list[str], at_s: float) -> Fault:
        return Fault(at_s, kind, nodes=(rng.choice(names),))

    def _target(self, step: check_nemesis.Fault) -> str:
        """A member name, or the member a role names now ("@leader", "@follower")."""
        name = step.nodes[0]
        if not name.startswith("@"):
            return name
        if step.action in ("restart", "resume") and name in self._resolved:
            return self._resolved.pop(name)  # undo the same member the fault hit
        statuses = self._cluster.status()
        role = name[1:]
        chosen = sorted(n for n, s in statuses.items() if s.fields.get("role") == role)
        if not chosen:
            raise RuntimeError(f"no member has role {role!r} now")
        member = self._rng.choice(chosen)
        self._resolved[name] = member
        return member

    def _apply(self, step: check_nemesis.Fault) -> str:
        if step.action == "isolate":
            member = self._target(step)
            self._cluster.isolate(member)
            self._partitioned = True
            return member
        if step.action == "promote":
            member = self._target(step)
            self._cluster.promote(member)
            return member
        return super()._apply(step)
