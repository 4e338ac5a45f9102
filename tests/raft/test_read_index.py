"""ReadIndex (the Raft thesis §6.4): linearizable reads that write nothing to the log.

The simulator checks every answered read ("Reads See Completed Writes"); these tests drive
reads into the situations that matter -- a fresh leader, a leader cut off from the others,
a leader that steps down with reads in flight, crashes on an unreliable network -- and a
mutant that skips the leadership round, which the check must catch.
"""

from __future__ import annotations

import random

import pytest

from distlab.kv.read_paths import read_after_a_pause
from distlab.raft import (
    AppendEntries,
    AppendEntriesReply,
    NotLeader,
    RaftConfig,
    RaftNode,
    RequestVote,
    RequestVoteReply,
    Role,
)
from distlab.raft.ready import ReadReady, ReadRefused
from distlab.sim import SafetyViolation, Simulation
from distlab.sim.network import NetworkConfig
from distlab.sim.simulation import SimRead


def committed_writes(sim: Simulation, count: int) -> int:
    index = 0
    for i in range(count):
        index = sim.one(f"w{i}", 3)
    return index


def test_a_leader_answers_a_read_after_a_round_and_a_follower_refuses() -> None:
    sim = Simulation(seed=1)
    leader = sim.check_one_leader()
    index = committed_writes(sim, 3)
    request = sim.read(leader)
    assert isinstance(request, int)
    sim.run_until(lambda: request in sim.reads, max_ticks=50)
    answer = sim.reads[request]
    assert isinstance(answer, SimRead) and answer.node == leader and answer.index >= index

    follower = next(n for n in sim.node_ids if n != leader)
    refused = sim.read(follower)
    assert isinstance(refused, NotLeader) and refused.leader_hint == leader
    assert sim.statistics().leaders_by_term  # the run had a leader throughout


def test_reads_write_nothing_to_the_log() -> None:
    sim = Simulation(seed=2)
    leader = sim.check_one_leader()
    committed_writes(sim, 2)
    before = sim.nodes[leader].log.last_index  # type: ignore[union-attr]
    requests = [sim.read(leader) for _ in range(20)]
    sim.run_until(lambda: all(r in sim.reads for r in requests), max_ticks=50)
    assert all(isinstance(sim.reads[r], SimRead) for r in requests)  # type: ignore[index]
    assert sim.nodes[leader].log.last_index == before  # type: ignore[union-attr]


def elected_leader() -> RaftNode:
    """n0 of three, just elected with n1's vote, its first Ready (the no-op) taken."""
    node = RaftNode("n0", ["n1", "n2"], rng=random.Random(0), config=RaftConfig())
    node.start_election()
    node.receive("n1", RequestVoteReply(term=node.current_term, vote_granted=True))
    node.take_ready()
    return node


def test_reads_that_arrive_together_share_one_round() -> None:
    node = elected_leader()
    for request in range(5):
        assert node.read_index(request) is None
    rounds = {
        e.message.read_round
        for e in node.take_ready().messages
        if isinstance(e.message, AppendEntries)
    }
    assert rounds == {1}  # five reads, one round


def test_a_leader_cut_off_from_the_majority_never_answers() -> None:
    """The stale read Raft's log path prevents: the old leader must not answer from its state."""
    sim = Simulation(seed=3)
    old = sim.check_one_leader()
    committed_writes(sim, 2)
    sim.isolate(old)
    request = sim.read(old)
    assert isinstance(request, int)
    new = sim.check_one_leader()
    assert new != old
    sim.one("written-after-the-cut", 2)
    sim.run_for(20 * sim.election_timeout_ticks)
    assert request not in sim.reads  # still waiting for a majority it cannot reach
    sim.heal()
    sim.run_until(lambda: request in sim.reads, max_ticks=10 * sim.election_timeout_ticks)
    assert isinstance(sim.reads[request], ReadRefused)  # it learned of the new term
    assert sim.reads[request].leader_hint in (None, new)  # type: ignore[union-attr]


class AnswersWithoutARound(RaftNode):
    """Mutant: trusts that it still leads, so it answers at once from its commit index."""

    def read_index(self, request: int) -> NotLeader | None:
        if self.role.value != "leader":
            return NotLeader(leader_hint=self.leader_id)
        self._reads_confirmed.append((request, self.commit_index))
        return None


def test_the_check_catches_a_leader_that_skips_the_round() -> None:
    sim = Simulation(seed=3, node_cls=AnswersWithoutARound)
    old = sim.check_one_leader()
    committed_writes(sim, 2)
    sim.isolate(old)
    sim.check_one_leader()
    sim.one("written-after-the-cut", 2)
    with pytest.raises(SafetyViolation, match="Reads See Completed Writes"):
        sim.read(old)


def test_reads_in_flight_are_refused_when_the_leader_steps_down() -> None:
    node = elected_leader()
    node.read_index(7)
    node.take_ready()  # the round goes out
    node.receive("n2", AppendEntriesReply(term=node.current_term + 1, success=False))
    outputs = node.take_ready().outputs
    assert outputs == [ReadRefused(7, None)]


def test_an_echo_from_a_stale_term_confirms_nothing() -> None:
    node = elected_leader()
    node.read_index(1)
    node.take_ready()
    node.receive("n1", AppendEntriesReply(term=node.current_term - 1, success=True, read_round=1))
    assert not any(isinstance(o, ReadReady) for o in node.take_ready().outputs)
    node.receive("n1", AppendEntriesReply(term=node.current_term, success=True, read_round=1))
    assert not any(isinstance(o, ReadReady) for o in node.take_ready().outputs)  # not applied
    # The read's index is the new leader's blank entry: it answers once that applies.
    node.receive("n1", AppendEntriesReply(term=node.current_term, success=True, match_index=1))
    assert [o for o in node.take_ready().outputs if isinstance(o, ReadReady)] == [ReadReady(1, 1)]


SCHEDULES = range(40)


def run_schedule(
    schedule: int, node_cls: type[RaftNode] = RaftNode, config: RaftConfig | None = None
) -> Simulation:
    """Random reads, writes, crashes and partitions on a lossy network (seeded)."""
    sim = Simulation(
        seed=schedule,
        network=NetworkConfig(drop_rate=0.1, duplicate_rate=0.05, delay_ticks=(1, 4)),
        node_cls=node_cls,
        config=config,
    )
    rng = random.Random(schedule)
    names = list(sim.node_ids)
    for step in range(60):
        action = rng.random()
        target = rng.choice(names)
        if action < 0.45:  # a client reads at whichever node claims to lead (maybe stale)
            sim.read(next((n for n in names if is_leader(sim, n)), target))
        elif action < 0.8:
            sim.propose(target, f"c{step}")
        elif action < 0.88:
            sim.crash(target)
        elif action < 0.94:
            sim.isolate(target)
        else:
            heal_and_restart(sim)
        sim.run_for(rng.randint(1, 8))
    heal_and_restart(sim)
    return sim


def heal_and_restart(sim: Simulation) -> None:
    sim.heal()
    for name in sim.node_ids:
        if not sim.alive(name):
            sim.restart(name)


def is_leader(sim: Simulation, name: str) -> bool:
    node = sim.nodes[name]
    return node is not None and node.role is Role.LEADER


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_reads_stay_linearizable_through_crashes_partitions_and_loss(schedule: int) -> None:
    """Every answered read is checked by the simulator as it happens; at the end the healed
    cluster's leader must still answer one (reads do not get stuck)."""
    sim = run_schedule(schedule)
    last = sim.read(sim.check_one_leader())
    sim.run_until(lambda: last in sim.reads, max_ticks=10 * sim.election_timeout_ticks)
    assert isinstance(sim.reads[last], SimRead)  # type: ignore[index]


def test_the_sweep_catches_the_mutant_that_skips_the_round() -> None:
    caught = 0
    for schedule in SCHEDULES:
        try:
            run_schedule(schedule, AnswersWithoutARound)
        except SafetyViolation as violation:
            assert "Reads See Completed Writes" in str(violation)
            caught += 1
    assert caught > 0


# --- Leader leases (§6.4.1): no round at all, and a clock to trust -----------------------

LEASES = RaftConfig(lease_reads=True)


def test_a_leader_with_a_lease_answers_without_a_round() -> None:
    sim = Simulation(seed=4, config=LEASES)
    leader = sim.check_one_leader()
    committed_writes(sim, 2)
    sent_before = sim.statistics().messages_sent
    request = sim.read(leader)
    assert request in sim.reads, "answered in the same step, before any message"
    assert isinstance(sim.reads[request], SimRead)
    assert sim.statistics().messages_sent == sent_before


def test_with_leases_a_follower_that_heard_its_leader_recently_refuses_to_vote() -> None:
    follower = RaftNode("n1", ["n0", "n2"], rng=random.Random(0), config=LEASES)
    follower.receive("n0", AppendEntries(1, "n0", 0, 0, (), 0))
    follower.take_ready()
    follower.receive(
        "n2", RequestVote(term=5, candidate_id="n2", last_log_index=9, last_log_term=4)
    )
    assert follower.current_term == 1 and follower.voted_for is None
    assert not follower.take_ready().messages  # not even a refusal: the request is ignored
    for _ in range(LEASES.election_timeout_ticks[0]):
        follower.tick()  # (its own election timer may fire meanwhile; it then runs for term 2)
    follower.receive(
        "n2", RequestVote(term=5, candidate_id="n2", last_log_index=9, last_log_term=4)
    )
    assert follower.current_term == 5 and follower.voted_for == "n2"


@pytest.mark.parametrize("schedule", range(20))
def test_leases_stay_linearizable_while_every_clock_runs_at_one_rate(schedule: int) -> None:
    """The simulator's nodes tick in lockstep (the lease's assumption holds), so crashes,
    partitions and loss never produce a stale lease read."""
    sim = run_schedule(schedule, config=LEASES)
    answered = [r for r in sim.reads.values() if isinstance(r, SimRead)]
    assert answered


def test_a_paused_leader_breaks_the_lease_assumption_and_the_check_catches_it() -> None:
    """Cut off and frozen, the old leader's clock stops; woken, it still holds its lease."""
    outcome = read_after_a_pause("lease")
    assert outcome.stale and outcome.caught_by == "Reads See Completed Writes"


@pytest.mark.parametrize("path", ["read_index", "log"])
def test_paths_that_trust_no_clock_make_the_same_pause_harmless(path: str) -> None:
    outcome = read_after_a_pause(path)
    assert not outcome.answered and not outcome.stale
