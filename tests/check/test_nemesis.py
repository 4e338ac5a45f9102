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


def test_a_plan_runs_against_the_simulator_stepped_in_virtual_time() -> None:
    """The same Nemesis drives a `distlab.sim.World` (here Raft's Simulation) from the
    simulator's one thread: attach, advance as virtual time moves, recover at the end."""
    from distlab.sim import Simulation

    sim = Simulation(4, 3)
    nemesis = Nemesis(
        4,
        faults=("partition", "crash", "isolate-leader"),
        gap_s=(0.5, 1.0),
        hold_s=(1.0, 2.0),
        clock=lambda: sim.now,
    )
    duration_s = 12.0
    steps = nemesis.attach(sim, duration_s)
    assert {"isolate-leader", "heal"} <= {step.action for step in steps}, steps
    end_tick = round(duration_s * sim.ticks_per_second)
    while sim.now < end_tick:
        sim.run_for(1)
        nemesis.advance(sim.now / sim.ticks_per_second)
    assert [event.action for event in nemesis.events] == [step.action for step in steps]
    assert not [event for event in nemesis.events if event.error], nemesis.events
    tps = sim.ticks_per_second
    for event, step in zip(nemesis.events, steps, strict=True):  # on time, on the sim's clock
        assert step.at_s * tps <= event.time < step.at_s * tps + 1, (event, step)
    # The faults reached the World: it drew them on its timeline.
    drawn = {(e.kind, e.detail.split()[0] if e.detail else "") for e in sim.timeline}
    assert ("network", "partition") in drawn and ("network", "heal") in drawn, drawn
    nemesis.recover()
    assert nemesis.recovered_at == sim.now
    assert all(sim.alive(name) for name in sim.names) and all(
        sim.connected(name) for name in sim.names
    )
    assert sim.wait_for(
        lambda: any(v.fields.get("role") == "leader" for v in sim.status().values()), 5.0
    ), "after the recovery the cluster elects a leader again"


def test_a_pause_freezes_a_simulated_node_and_recover_resumes_it() -> None:
    from distlab.sim import Simulation

    sim = Simulation(1, 3)
    nemesis = Nemesis(schedule=[Fault(0.0, "pause", nodes=("n1",))], clock=lambda: sim.now)
    nemesis.attach(sim, 1.0)
    (event,) = nemesis.advance(0.0)
    assert event.error == "" and sim.status()["n1"].state == "paused"
    nemesis.recover()  # what is still in force is undone: the node resumes
    assert sim.status()["n1"].state == "up"
    assert [e.action for e in nemesis.events] == ["pause", "resume"]
