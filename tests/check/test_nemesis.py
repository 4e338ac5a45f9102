"""The nemesis: its seeded plan (pure), and running it against a recording fake cluster."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from distlab.check.nemesis import Fault, Nemesis

NAMES = ["n0", "n1", "n2", "n3", "n4"]


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    plans = [
        Nemesis(seed, faults=("partition", "crash", "pause")).plan(NAMES, 30) for seed in (1, 1, 2)
    ]
    assert plans[0] == plans[1]
    assert plans[0] != plans[2]


@pytest.mark.parametrize("seed", range(20))
def test_plans_hurt_one_minority_at_a_time_and_undo_every_fault_in_time(seed: int) -> None:
    plan = Nemesis(seed, faults=("partition", "crash", "pause", "isolate-leader")).plan(NAMES, 20)
    assert plan, "a 20 s run with gaps of at most 1.5 s must contain faults"
    undo = {"partition": "heal", "isolate-leader": "heal", "crash": "restart", "pause": "resume"}
    times = [step.at_s for step in plan]
    assert times == sorted(times) and times[-1] <= 20
    for fault, fix in zip(
        plan[::2], plan[1::2], strict=True
    ):  # fault, its undo, fault, its undo, ...
        assert fix.action == undo[fault.action]
        assert fix.nodes == fault.nodes
        assert fix.at_s >= fault.at_s
        if fault.action == "partition":
            small, large = fault.groups
            assert 1 <= len(small) < len(large), "the minority side must be the smaller one"
            assert sorted(small + large) == NAMES
    assert len(plan) % 2 == 0


def test_a_scripted_schedule_replaces_the_random_plan() -> None:
    steps = [Fault(2.0, "heal"), Fault(1.0, "isolate-leader")]
    assert Nemesis(schedule=steps).plan(NAMES, 10) == [steps[1], steps[0]]
    assert Nemesis(schedule=steps).plan(NAMES, 1.5) == [steps[1]]


def test_bad_faults_are_rejected_with_the_reason() -> None:
    with pytest.raises(ValueError, match="unknown nemesis action"):
        Fault(1, "explode")
    with pytest.raises(ValueError, match="exactly one node"):
        Fault(1, "crash")
    with pytest.raises(ValueError, match="two groups"):
        Fault(1, "partition", groups=(("n0",),))
    with pytest.raises(ValueError, match="unknown fault kinds"):
        Nemesis(faults=("meteor",))


class FakeCluster:
    """Records control calls; n2 reports itself leader."""

    def __init__(self) -> None:
        self.names = ["n0", "n1", "n2"]
        self.calls: list[tuple] = []

    def partition(self, *groups):
        self.calls.append(("partition", *[tuple(g) for g in groups]))

    def heal(self):
        self.calls.append(("heal",))

    def crash(self, name):
        self.calls.append(("crash", name))

    def restart(self, name):
        self.calls.append(("restart", name))
        if name == "n1":
            raise RuntimeError("disk on fire")

    def pause(self, name):
        self.calls.append(("pause", name))

    def resume(self, name):
        self.calls.append(("resume", name))

    def status(self):
        return {
            name: SimpleNamespace(fields={"role": "leader" if name == "n2" else "follower"})
            for name in self.names
        }


def test_running_performs_the_steps_records_events_and_stop_undoes_what_is_left() -> None:
    cluster = FakeCluster()
    schedule = [
        Fault(0.0, "isolate-leader"),
        Fault(0.05, "heal"),
        Fault(0.1, "crash", nodes=("n0",)),
        Fault(0.15, "pause", nodes=("n1",)),
        Fault(5.0, "restart", nodes=("n0",)),  # never reached: stop() comes first
    ]
    nemesis = Nemesis(schedule=schedule).start(cluster, duration_s=10)
    deadline = time.monotonic() + 10
    while len(nemesis.events) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    nemesis.stop()
    assert cluster.calls == [
        ("partition", ("n2",), ("n0", "n1")),  # the leader was cut off
        ("heal",),
        ("crash", "n0"),
        ("pause", "n1"),
        ("resume", "n1"),  # stop(): undo what is still in force
        ("restart", "n0"),
    ]
    assert [e.action for e in nemesis.events] == [
        "isolate-leader", "heal", "crash", "pause", "resume", "restart",
    ]  # fmt: skip
    times = [e.time for e in nemesis.events]
    assert times == sorted(times) and nemesis.recovered_at >= times[-1]
    assert nemesis.events[0].detail == "n2 | n0,n1"
    stats = nemesis.statistics()
    assert stats.performed == 6 and stats.failed == 0 and not stats.running


def test_a_failing_action_is_recorded_not_raised() -> None:
    cluster = FakeCluster()
    nemesis = Nemesis(
        schedule=[Fault(0, "crash", nodes=("n1",)), Fault(0.01, "restart", nodes=("n1",))]
    )
    nemesis.start(cluster, duration_s=1)
    deadline = time.monotonic() + 10
    while len(nemesis.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    nemesis.stop()
    assert "disk on fire" in nemesis.events[1].error
    assert nemesis.statistics().failed >= 1
