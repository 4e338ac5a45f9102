"""Aurora in the simulator: seeded sweeps through crashes of storage nodes, whole zones, a
zone plus one node and the writer, judged by the named safety checks after every event and
by the linearizability checker at the end; the availability table; W + R <= N losing a
read; repair of a replaced node; mutants that break one rule each, caught."""

from __future__ import annotations

import pytest

from distlab.aurora import (
    FAULTS,
    STORAGE,
    WRITER,
    Committed,
    StorageNode,
    Writer,
    aurora_world,
    availability,
    quorum_read_demo,
    run_aurora,
)
from distlab.aurora.messages import Durable
from distlab.aurora.simulated import (
    AuroraWorkload,
    recover_from_a_half_written_transaction,
    recover_with_laggards,
    wait_open,
)
from distlab.sim import UNRELIABLE, SafetyViolation


def assert_correct(run) -> None:
    assert run.violations == ()
    assert run.linearizable, f"seed {run.seed}: {run.verdict} after {run.faults}"
    assert run.acknowledged_lost == 0
    assert run.half_applied == 0
    assert run.caught_up, f"seed {run.seed}: a storage node did not catch up"
    assert run.acknowledged > 100, "the run must not be vacuous"


@pytest.mark.parametrize("seed", range(3))
def test_every_acknowledged_commit_survives_zone_and_writer_crashes(seed) -> None:
    run = run_aurora(seed, faults=4, network=UNRELIABLE)
    assert_correct(run)
    assert {fault.split(" (")[0] for fault in run.faults} == set(FAULTS)
    assert run.recoveries >= 3, "the writer crashed and recovered"
    assert run.refused > 0, "with a zone plus one node down, writes were refused"


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3, 60))
def test_a_long_sweep_of_schedules(seed) -> None:
    assert_correct(run_aurora(seed, faults=8, network=UNRELIABLE))


def test_the_availability_table_is_measured() -> None:
    rows = {row.failure: row for row in availability()}
    assert [(r.writes, r.reads) for r in rows.values()] == [
        (True, True),
        (True, True),
        (True, True),
        (False, True),
        (False, False),
    ]
    assert "write quorum unavailable: 3 of 6" in rows["one zone + one node"].detail


def test_all_six_as_the_write_quorum_loses_writes_to_one_node() -> None:
    rows = {row.failure: row for row in availability(write_quorum=6)}
    assert not rows["one node"].writes and rows["one node"].reads


@pytest.mark.parametrize(
    ("write_quorum", "read_quorum", "correct"),
    [(4, 3, True), (3, 4, True), (4, 2, False), (3, 3, False), (2, 2, False)],
)
def test_a_read_quorum_that_misses_the_write_quorum_loses_the_write(
    write_quorum, read_quorum, correct
) -> None:
    demo = quorum_read_demo(write_quorum, read_quorum)
    assert demo.linearizable is correct
    assert demo.read_value == ("new" if correct else "old")


def test_a_replaced_node_is_filled_again_by_gossip() -> None:
    world = aurora_world(0)
    workload = AuroraWorkload(world)
    wait_open(world)
    workload.run_for(100)
    world.crash("n4")
    world.system.wipe("n4")
    workload.run_for(100)
    world.restart("n4")
    workload.settle()
    assert world.nodes["n4"].scl == 0 or world.nodes["n4"].scl < world.nodes[WRITER].vdl
    assert world.run_until(lambda: world.nodes["n4"].scl >= world.nodes[WRITER].vdl, 500)
    assert world.nodes["n4"].gossip_filled > 0, "its peers, not the writer, filled it"


def test_without_gossip_a_node_that_missed_commits_stays_behind() -> None:
    world = aurora_world(0, gossip=False)
    workload = AuroraWorkload(world)
    wait_open(world)
    world.crash("n4")
    workload.run_for(100)
    workload.settle()
    world.restart("n4")
    world.run_for(300)
    assert world.nodes["n4"].scl < world.nodes[WRITER].vdl


# -- mutants: each breaks one rule; the named checks must catch every one ----------------------


class CommitsOnOneNode(Writer):
    """Counts a transaction committed once any single node holds it."""

    def volume_complete_lsn(self) -> int:
        return max((self.durable.get(node, 0) for node in self.storage), default=0)


class RecoversFromTheShortestLog(Writer):
    """Takes its recovery point from the shortest log in the read quorum."""

    def _choose_recovery_point(self) -> None:
        shortest = min(self._infos.values(), key=lambda info: info.scl)
        for node in list(self._infos):
            self._infos[node] = shortest
        super()._choose_recovery_point()


class CutsInsideATransaction(Writer):
    """Cuts the log at the longest scl, not at the last transaction end below it."""

    def _choose_recovery_point(self) -> None:
        best = max(self._infos.values(), key=lambda info: info.scl)
        for node in list(self._infos):
            self._infos[node] = type(best)(best.epoch, best.scl, best.scl)
        super()._choose_recovery_point()


class AcksTheHighestRecord(StorageNode):
    """Says it holds everything up to its highest record, holes and all."""

    def _answer(self, message, to=None) -> None:
        if isinstance(message, Durable) and self.records:
            message = Durable(message.epoch, max(self.records))
        super()._answer(message, to)


@pytest.mark.parametrize(
    ("options", "names"),
    [
        ({"writer_factory": CommitsOnOneNode}, {"Commit Only On A Write Quorum"}),
        ({"storage_factory": AcksTheHighestRecord}, {"Commit Only On A Write Quorum"}),
    ],
    ids=["commits-on-one-node", "acks-holes"],
)
def test_each_mutant_is_caught(options, names) -> None:
    caught = set()
    for seed in range(6):
        try:
            run_aurora(seed, faults=4, network=UNRELIABLE, **options)
        except SafetyViolation as violation:
            caught.add(violation.property_name)
            break
    assert caught and caught <= names, caught


def test_recovery_keeps_commits_the_laggards_never_saw() -> None:
    world = recover_with_laggards()
    assert world.system.violations == []
    assert world.nodes[WRITER].vdl >= max(world.system.acknowledged.values())


def test_a_recovery_from_the_shortest_log_is_caught() -> None:
    with pytest.raises(SafetyViolation, match="Truncation Never Cuts A Commit"):
        recover_with_laggards(writer_factory=RecoversFromTheShortestLog)


def test_recovery_cuts_a_half_written_transaction_away() -> None:
    world = recover_from_a_half_written_transaction()
    assert world.nodes[WRITER].vdl == 2
    assert world.run_until(lambda: all(world.nodes[n].scl == 2 for n in STORAGE), 200)
    assert world.nodes["n1"].read_page("p1", 2) == ("a", 1)


def test_a_recovery_inside_a_transaction_is_caught() -> None:
    with pytest.raises(SafetyViolation, match="Recovery Cuts At A Transaction End"):
        recover_from_a_half_written_transaction(writer_factory=CutsInsideATransaction)


def test_the_teaching_quorums_are_checked() -> None:
    with pytest.raises(ValueError, match="write_quorum must be an integer in \\[1, 6\\]"):
        aurora_world(0, write_quorum=7)
    with pytest.raises(ValueError, match="read_quorum"):
        aurora_world(0, read_quorum=0)


def test_storage_nodes_hold_the_commits_they_acknowledged() -> None:
    world = aurora_world(1)
    workload = AuroraWorkload(world)
    wait_open(world)
    workload.run_for(50)
    workload.settle()
    committed = [a for a in world.system.acknowledged.values()]
    assert committed and all(isinstance(lsn, int) for lsn in committed)
    assert sum(world.system.disk_scl(n) >= max(committed) for n in STORAGE) >= 4
    assert not isinstance(world.system.answers.get("nothing"), Committed)
