"""The engine nemesis: a pure seeded plan, and a runner that undoes what it did."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from distlab.engines.base import MemberStatus
from distlab.engines.faults import EngineNemesis, Fault

NAMES = ["n0", "n1", "n2"]


def test_plan_is_seeded_and_each_fault_is_undone_before_the_next():
    plan = EngineNemesis(7).plan(NAMES, 10.0)
    assert plan == EngineNemesis(7).plan(NAMES, 10.0)
    assert plan != EngineNemesis(8).plan(NAMES, 10.0)
    assert len(plan) >= 4 and len(plan) % 2 == 0
    undo = {"isolate": "heal", "crash": "restart", "pause": "resume"}
    for fault, fix in zip(plan[::2], plan[1::2], strict=True):
        assert fix.action == undo[fault.action]
        assert fix.at_s > fault.at_s
        if fix.action != "heal":
            assert fix.nodes == fault.nodes
    times = [step.at_s for step in plan]
    assert times == sorted(times) and times[-1] <= 10.0


def test_invalid_steps_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="unknown nemesis action"):
        Fault(0.1, "explode", nodes=("n0",))
    with pytest.raises(ValueError, match="exactly one member"):
        Fault(0.1, "crash")
    with pytest.raises(ValueError, match="two groups"):
        Fault(0.1, "partition", groups=(("n0",),))
    with pytest.raises(ValueError, match="unknown fault kinds"):
        EngineNemesis(faults=("meteor",))


@dataclass
class FakeEngine:
    """Records the control calls; n1 is the leader."""

    names: list[str] = field(default_factory=lambda: list(NAMES))
    calls: list[tuple] = field(default_factory=list)

    def status(self):
        return {
            n: MemberStatus(n, "up", True, 1, None, {"role": "leader" if n == "n1" else "follower"})
            for n in self.names
        }

    def isolate(self, name):
        self.calls.append(("isolate", name))

    def heal(self):
        self.calls.append(("heal",))

    def crash(self, name):
        self.calls.append(("crash", name))

    def restart(self, name):
        self.calls.append(("restart", name))

    def pause(self, name):
        self.calls.append(("pause", name))

    def resume(self, name):
        raise RuntimeError("resume is broken in this fake")


def test_runner_resolves_roles_records_failures_and_undoes_on_stop():
    engine = FakeEngine()
    nemesis = EngineNemesis(
        3,
        schedule=[
            Fault(0.0, "isolate", nodes=("@leader",)),
            Fault(0.01, "heal"),
            Fault(0.02, "crash", nodes=("@follower",)),
            Fault(0.03, "pause", nodes=("n2",)),
            Fault(0.04, "resume", nodes=("n2",)),  # fails: recorded, not raised
            Fault(30.0, "restart", nodes=("@follower",)),  # never reached: stop() undoes it
        ],
    )
    nemesis.start(engine, duration_s=60.0)
    deadline = time.monotonic() + 10
    while len(nemesis.events) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    nemesis.stop()
    assert engine.calls[:2] == [("isolate", "n1"), ("heal",)]
    crashed = engine.calls[2][1]
    assert engine.calls[2] == ("crash", crashed) and crashed in ("n0", "n2")
    assert ("restart", crashed) in engine.calls  # undone by stop()
    failed = [event for event in nemesis.events if event.error]
    assert [event.action for event in failed][:1] == ["resume"]
    assert "RuntimeError" in failed[0].error
    times = [event.time for event in nemesis.events]
    assert times == sorted(times)


def test_a_role_target_is_undone_on_the_member_it_hit_and_steps_are_engine_faults():
    plan = EngineNemesis(5).plan(NAMES, 10.0)
    assert plan and all(isinstance(step, Fault) for step in plan)  # undo steps too
    engine = FakeEngine()
    nemesis = EngineNemesis(
        11,
        schedule=[
            Fault(0.0, "crash", nodes=("@follower",)),
            Fault(0.01, "restart", nodes=("@follower",)),
        ],
    )
    nemesis.start(engine, duration_s=5.0)
    deadline = time.monotonic() + 10
    while len(nemesis.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    nemesis.stop()
    crashed = engine.calls[0][1]
    assert engine.calls == [("crash", crashed), ("restart", crashed)]
    assert [event.detail for event in nemesis.events] == [crashed, crashed]
    stats = nemesis.statistics()
    assert (stats.planned, stats.performed, stats.failed) == (2, 2, 0)
    assert stats.recovered_at is not None
