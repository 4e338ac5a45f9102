"""ReadIndex (the Raft thesis §6.4): linearizable reads that write nothing to the log.

The simulator checks every answered read ("Reads See Completed Writes"); these tests drive
reads into the situations that matter -- a fresh leader, a leader cut off from the others,
a leader that steps down with reads in flight, crashes on an unreliable network -- and a
mutant that skips the leadership round, which the check must catch. Then the same for
follower reads (a follower asks the leader for the read index and answers itself), and
for leader leases.
"""

from __future__ import annotations

import random

import pytest

from distlab.kv.read_paths import read_after_a_pause
from distlab.raft import (
    AppendEntries,
    AppendEntriesReply,
    CommandApplied,
    Envelope,
    LogEntry,
    Message,
    NotLeader,
    Proposed,
    RaftConfig,
    RaftNode,
    ReadIndexReply,
    ReadIndexRequest,
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
    schedule: int,
    node_cls: type[RaftNode] = RaftNode,
    config: RaftConfig | None = None,
    *,
    follower_reads: bool = False,
) -> Simulation:
    """Random reads, writes, crashes and partitions on a lossy network (seeded). Reads go to
    whichever node claims to lead or, with ``follower_reads``, to any node."""
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
        if action < 0.45 and follower_reads:  # a client reads at any node
            sim.read(target, follower_ok=True)
        elif action < 0.45:  # a client reads at whichever node claims to lead (maybe stale)
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


# --- Follower reads (§6.4, last paragraph): the leader confirms, the follower answers -----


def following(leader: str = "n0", commit: int = 0) -> RaftNode:
    """n1 of three, following ``leader`` in term 1, holding two entries, commit at ``commit``."""
    node = RaftNode("n1", ["n0", "n2"], rng=random.Random(0), config=RaftConfig())
    entries = (LogEntry(1, 1, "a"), LogEntry(1, 2, "b"))
    node.receive(leader, AppendEntries(1, leader, 0, 0, entries, commit))
    node.take_ready()
    return node


def test_a_follower_asks_its_leader_once_for_reads_that_arrive_together() -> None:
    node = following()
    assert node.read_index(1) == NotLeader(leader_hint="n0")  # the option is off by default
    assert node.read_index(2, follower_ok=True) is None
    assert node.read_index(3, follower_ok=True) is None
    assert node.take_ready().messages == [Envelope("n1", "n0", ReadIndexRequest(1, (2, 3)))]
    assert not node.has_ready()


def test_a_follower_answers_only_once_it_has_applied_the_read_index() -> None:
    node = following(commit=1)
    node.read_index(7, follower_ok=True)
    node.take_ready()
    node.receive("n0", ReadIndexReply(1, True, (7,), index=2))
    node.receive("n0", ReadIndexReply(1, True, (7,), index=2))  # a duplicate: ignored
    assert not any(isinstance(o, ReadReady) for o in node.take_ready().outputs)
    node.receive("n0", AppendEntries(1, "n0", 2, 1, (), 2))  # the leader commits index 2
    assert node.take_ready().outputs == [CommandApplied(2, 1, "b"), ReadReady(7, 2)]


def test_a_follower_refuses_when_the_leader_does_or_a_new_term_comes_first() -> None:
    node = following()
    node.read_index(1, follower_ok=True)
    node.read_index(2, follower_ok=True)
    node.take_ready()
    node.receive("n0", ReadIndexReply(1, False, (1,)))
    assert node.take_ready().outputs == [ReadRefused(1, "n0")]
    node.receive("n2", RequestVote(term=2, candidate_id="n2", last_log_index=9, last_log_term=1))
    assert node.take_ready().outputs == [ReadRefused(2, None)]
    node.receive("n0", ReadIndexReply(1, True, (2,), index=0))  # too late: another term
    assert not node.take_ready().outputs
    assert node.read_index(3, follower_ok=True) == NotLeader(leader_hint=None)  # leader unknown


def test_the_leader_confirms_a_followers_reads_in_its_round_and_writes_nothing() -> None:
    node = elected_leader()
    last = node.log.last_index
    node.receive("n2", ReadIndexRequest(node.current_term, (4, 5)))
    node.receive("n2", ReadIndexRequest(node.current_term, (4, 5)))  # asked again: held once
    ready = node.take_ready()
    assert {e.message.read_round for e in ready.messages} == {1}  # one round, to both
    assert not any(isinstance(e.message, ReadIndexReply) for e in ready.messages)
    node.receive("n1", AppendEntriesReply(term=node.current_term, success=True, read_round=1))
    reply = ReadIndexReply(node.current_term, True, (4, 5), index=last)
    answers = [e for e in node.take_ready().messages if isinstance(e.message, ReadIndexReply)]
    assert answers == [Envelope("n0", "n2", reply)]
    assert node.log.last_index == last


def test_a_leader_that_steps_down_refuses_the_followers_reads() -> None:
    node = elected_leader()
    node.receive("n2", ReadIndexRequest(node.current_term, (4,)))
    node.take_ready()
    node.receive("n1", AppendEntriesReply(term=node.current_term + 1, success=False))
    messages = [e.message for e in node.take_ready().messages]
    assert messages == [ReadIndexReply(node.current_term, False, (4,))]


def test_a_follower_answers_a_read_from_its_own_service() -> None:
    sim = Simulation(seed=1)
    leader = sim.check_one_leader()
    index = committed_writes(sim, 3)
    before = sim.nodes[leader].log.last_index  # type: ignore[union-attr]
    follower = next(n for n in sim.node_ids if n != leader)
    requests = [sim.read(follower, follower_ok=True) for _ in range(5)]
    sim.run_until(lambda: all(r in sim.reads for r in requests), max_ticks=50)
    for request in requests:
        answer = sim.reads[request]  # type: ignore[index]
        assert isinstance(answer, SimRead) and answer.node == follower and answer.index >= index
    assert sim.nodes[leader].log.last_index == before  # type: ignore[union-attr]


class FollowerAnswersAtOnce(RaftNode):
    """Mutant: a follower answers from its own state at once, asking nobody (the plain
    "read any replica" of a weakly consistent store)."""

    def read_index(self, request: int, *, follower_ok: bool = False) -> NotLeader | None:
        if follower_ok and self.role is Role.FOLLOWER:
            self._reads_confirmed.append((request, 0))
            return None
        return super().read_index(request, follower_ok=follower_ok)


class LeaderGrantsWithoutARound(RaftNode):
    """Mutant: a leader hands a follower its read index at once, trusting that it still leads."""

    def receive(self, sender: str, message: Message) -> None:
        if isinstance(message, ReadIndexRequest) and self.role is Role.LEADER:
            index = max(self.commit_index, self._term_start_index)
            self.send(sender, ReadIndexReply(self.current_term, True, message.requests, index))
            return
        super().receive(sender, message)


def read_beside_a_deposed_leader(node_cls: type[RaftNode]) -> tuple[Simulation, int]:
    """Five nodes: the leader and one follower are cut off from the other three, which elect
    a new leader and commit a write; then the cut-off follower -- still following the old
    leader -- is asked for a read. Returns the simulation and the read's number."""
    sim = Simulation(seed=3, nodes=5, node_cls=node_cls)
    old = sim.check_one_leader()
    sim.one("before", 5)
    follower, *others = [n for n in sim.node_ids if n != old]
    sim.partition([old, follower], others)
    assert sim.run_until(lambda: any(is_leader(sim, n) for n in others), max_ticks=200)
    new = sim.propose(next(n for n in others if is_leader(sim, n)), "after")
    assert isinstance(new, Proposed)
    assert sim.run_until(lambda: sim.system.highest_commit >= new.index, max_ticks=200)
    assert sim.nodes[follower].leader_id == old  # type: ignore[union-attr]
    request = sim.read(follower, follower_ok=True)
    assert isinstance(request, int)
    sim.run_for(5 * sim.election_timeout_ticks)
    return sim, request


def test_a_follower_of_a_deposed_leader_cannot_get_its_read_confirmed() -> None:
    sim, request = read_beside_a_deposed_leader(RaftNode)
    assert request not in sim.reads  # the old leader's round never reaches a majority


def test_the_check_catches_a_leader_that_grants_a_follower_read_without_a_round() -> None:
    with pytest.raises(SafetyViolation, match="Reads See Completed Writes"):
        read_beside_a_deposed_leader(LeaderGrantsWithoutARound)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_follower_reads_stay_linearizable_through_crashes_partitions_and_loss(
    schedule: int,
) -> None:
    """Reads at any node, checked as they are answered; at the end of each schedule a
    follower of the healed cluster still answers one."""
    sim = run_schedule(schedule, follower_reads=True)
    leader = sim.check_one_leader()
    follower = next(n for n in sim.node_ids if n != leader)
    knows = sim.run_until(
        lambda: sim.nodes[follower].leader_id == leader,  # type: ignore[union-attr]
        max_ticks=10 * sim.election_timeout_ticks,
    )
    assert knows, "the healed cluster's follower never heard from its leader"
    last = sim.read(follower, follower_ok=True)
    sim.run_until(lambda: last in sim.reads, max_ticks=10 * sim.election_timeout_ticks)
    answer = sim.reads[last]  # type: ignore[index]
    assert isinstance(answer, SimRead) and answer.node == follower


def test_the_follower_read_sweep_catches_a_follower_that_answers_at_once() -> None:
    caught = 0
    for schedule in SCHEDULES:
        try:
            run_schedule(schedule, FollowerAnswersAtOnce, follower_reads=True)
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


@pytest.mark.parametrize("path", ["read_index", "log", "follower"])
def test_paths_that_trust_no_clock_make_the_same_pause_harmless(path: str) -> None:
    outcome = read_after_a_pause(path)
    assert not outcome.answered and not outcome.stale
