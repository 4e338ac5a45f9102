"""A seeded fault schedule for real engines: `distlab.check.nemesis.Nemesis` taught engine moves.

`EngineNemesis` is a subclass of the nemesis built for distlab's own Cluster, so both are
driven alike and share one runner: :meth:`EngineNemesis.plan` is pure (seed, member names,
duration -> a list of `Fault` steps), :meth:`start` runs the steps on a thread against an
`Engine`, :meth:`stop` undoes whatever is still in force (heal, restart, resume), and every
step becomes a `NemesisEvent` stamped with the history's clock. The vocabulary is the one
fault model, `distlab.core.FaultKind`; role targets (``"@leader"``, ``"@follower"``,
resolved when the step runs, the undo hitting the member the fault hit) come from the base
class. This module adds only what differs for engines, through the base class's hooks:

- ``isolate`` calls the engine's own ``isolate`` (etcd: the member's raft traffic is cut,
  its clients still reach it), where the base nemesis cuts a node off with a partition.
- ``promote`` (Redis failover by hand): not a fault of the model but an operator's action,
  so it is no `FaultKind`; it is the one extra action an engine step may name.
- Random faults: ``isolate``, ``crash`` (kill -9) and ``pause`` (SIGSTOP), each hurting one
  member (a minority of three) and undone before the next.

What it must never do: use global randomness, raise out of its thread (a failed action is
recorded), or leave a fault in force after ``stop()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar

from distlab.check import nemesis as check_nemesis
from distlab.check.nemesis import NemesisEvent
from distlab.core import FaultKind

__all__ = ["ENGINE_ACTIONS", "PROMOTE", "EngineNemesis", "Fault", "NemesisEvent"]

PROMOTE = "promote"
"""Make a member the primary by hand (Redis ``REPLICAOF NO ONE``): an operator's action."""

ENGINE_ACTIONS: tuple[str, ...] = (
    FaultKind.ISOLATE.value,
    FaultKind.PARTITION.value,
    FaultKind.HEAL.value,
    FaultKind.CRASH.value,
    FaultKind.RESTART.value,
    FaultKind.PAUSE.value,
    FaultKind.RESUME.value,
    PROMOTE,
)
FAULT_KINDS: tuple[str, ...] = (
    FaultKind.ISOLATE.value,
    FaultKind.CRASH.value,
    FaultKind.PAUSE.value,
)


class Fault(check_nemesis.Fault):
    """One planned step: ``at_s`` seconds after start, do ``action`` to ``nodes``/``groups``.

    ``nodes`` holds a member name or a role (``"@leader"``, ``"@follower"``).
    """

    actions: ClassVar[tuple[str, ...]] = ENGINE_ACTIONS
    one_node: ClassVar[tuple[str, ...]] = (*check_nemesis.Fault.one_node, PROMOTE)
    noun: ClassVar[str] = "member"


class EngineNemesis(check_nemesis.Nemesis):
    """Seeded faults against an `Engine` (see the module docstring).

    ``faults``: kinds the random plan draws from; ``gap_s``: (min, max) quiet time between
    faults; ``hold_s``: how long each lasts; ``schedule``: fixed steps instead.
    """

    fault_class: ClassVar[type[check_nemesis.Fault]] = Fault
    fault_kinds: ClassVar[tuple[str, ...]] = FAULT_KINDS
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

    def _apply(self, step: check_nemesis.Fault) -> str:
        control = self._require_control()
        if step.action == PROMOTE:
            member = self._target(step)
            control.promote(member)  # type: ignore[attr-defined]  # engines only (Redis)
            return member
        if step.kind is FaultKind.ISOLATE:
            member = self._target(step)
            control.isolate(member)
            self._partitioned = True
            return member
        return super()._apply(step)
