"""6.824 lab 2B equivalents in the simulator: log replication and agreement."""

from __future__ import annotations

import random
from typing import ClassVar

from distlab.raft import AppendEntriesReply, Proposed, RaftNode
from distlab.sim import Simulation


def test_basic_agreement(seed):
    sim = Simulation(seed, 3)
    for index in range(1, 4):
        count, _ = sim.n_committed(index)
        assert count == 0, "committed before start()"
        assert sim.one(index * 100, 3) == index


def test_rpc_bytes_stay_close_to_the_bytes_of_the_commands(seed):
    sim = Simulation(seed, 3)
    rng = random.Random(seed)
    sim.one(99, 3)
    bytes0 = sim.network.bytes_sent
    sent = 0
    for _ in range(2, 11):
        command = "".join(rng.choice("abcdefghij") for _ in range(5000))
        sim.one(command, 3)
        sent += len(command)
    used = sim.network.bytes_sent - bytes0
    # Each command must reach the two followers once; everything else is small overhead.
    assert 2 * sent <= used <= 2 * sent + 10_000, f"{used} bytes for {sent} bytes of commands"


def test_agreement_despite_a_disconnected_follower(seed):
    sim = Simulation(seed, 3)
    ids = sim.node_ids
    sim.one(101, 3)
    leader = sim.check_one_leader()
    follower = ids[(ids.index(leader) + 1) % 3]
    sim.disconnect(follower)
    sim.one(102, 2)
    sim.one(103, 2)
    sim.run_for(sim.election_timeout_ticks)
    sim.one(104, 2)
    sim.one(105, 2)
    sim.connect(follower)
    sim.one(106, 3)
    sim.run_for(sim.election_timeout_ticks)
    sim.one(107, 3)


def test_agreement_after_the_leader_fails(seed):
    sim = Simulation(seed, 3)
    sim.one(101, 3)
    leader = sim.check_one_leader()
    sim.crash(leader)
    sim.one(102, 2)
    sim.one(103, 2)
    sim.restart(leader)
    sim.one(104, 3)


def test_no_agreement_without_a_majority(seed):
    sim = Simulation(seed, 5)
    ids = sim.node_ids
    sim.one(10, 5)
    leader = sim.check_one_leader()
    position = ids.index(leader)
    for step in (1, 2, 3):
        sim.disconnect(ids[(position + step) % 5])
    result = sim.propose(leader, 20)
    assert isinstance(result, Proposed) and result.index == 2
    sim.run_for(2 * sim.election_timeout_ticks)
    count, _ = sim.n_committed(2)
    assert count == 0, f"{count} committed but no majority"
    for step in (1, 2, 3):
        sim.connect(ids[(position + step) % 5])
    leader2 = sim.check_one_leader()
    result = sim.propose(leader2, 30)
    assert isinstance(result, Proposed) and 2 <= result.index <= 3
    sim.one(1000, 5)


def test_concurrent_starts_all_commit(seed):
    sim = Simulation(seed, 3)
    for _attempt in range(5):
        leader = sim.check_one_leader()
        first = sim.propose(leader, 1)
        if not isinstance(first, Proposed):
            continue
        term = first.term
        indices = {}
        for command in range(100, 105):
            result = sim.propose(leader, command)
            if isinstance(result, Proposed) and result.term == term:
                indices[command] = result.index
        if len(indices) < 5:
            continue
        committed = [sim.wait(index, 3, term) for index in sorted(indices.values())]
        if None in committed:
            continue  # the term changed under us: try again, like the lab
        assert sorted(committed) == list(range(100, 105))
        return
    raise AssertionError(f"term changed too often (seed={seed})")


def test_partitioned_leader_rejoins_and_its_stale_entries_are_replaced(seed):
    sim = Simulation(seed, 3)
    sim.one(101, 3)
    leader1 = sim.check_one_leader()
    sim.disconnect(leader1)
    for command in (102, 103, 104):
        sim.propose(leader1, command)  # can never commit
    sim.one(103, 2)
    leader2 = sim.check_one_leader()
    sim.disconnect(leader2)
    sim.connect(leader1)
    sim.one(104, 2)
    sim.connect(leader2)
    sim.one(105, 3)


class RejectionCounter(RaftNode):
    """A spy: records each AppendEntries this follower rejected (its prev_log_index)."""

    rejected: ClassVar[list[tuple[str, int]]] = []

    def _handle_append_entries(self, sender, request):
        before = len(self._messages)
        super()._handle_append_entries(sender, request)
        reply = self._messages[before].message if len(self._messages) > before else None
        if (
            isinstance(reply, AppendEntriesReply)
            and not reply.success
            and reply.term == request.term
        ):
            RejectionCounter.rejected.append((self.node_id, request.prev_log_index))


class NaiveBacktrack(RejectionCounter):
    """The paper's basic rule without the optimisation: step back one entry per rejection."""

    def _handle_append_entries_reply(self, sender, reply):
        if not reply.success and self.role.value == "leader" and reply.term == self.current_term:
            self._probing.add(sender)
            self.next_index[sender] = max(self.match_index[sender] + 1, self.next_index[sender] - 1)
            self._send_append_entries(sender)
            return
        super()._handle_append_entries_reply(sender, reply)


def backup_scenario(seed: int, node_cls: type[RaftNode]) -> int:
    """6.824's TestBackup2B; returns how many distinct AppendEntries positions were rejected
    while the two far-behind followers caught up at the end."""
    sim = Simulation(seed, 5, node_cls=node_cls)
    rng = random.Random(seed)
    ids = sim.node_ids
    sim.one(rng.randrange(10**9), 5)
    leader1 = sim.check_one_leader()
    at = ids.index(leader1)
    for step in (2, 3, 4):
        sim.disconnect(ids[(at + step) % 5])
    for _ in range(50):  # a leader with only one follower: nothing commits
        sim.propose(leader1, rng.randrange(10**9))
    sim.run_for(sim.election_timeout_ticks // 2)
    sim.disconnect(leader1)
    sim.disconnect(ids[(at + 1) % 5])
    for step in (2, 3, 4):
        sim.connect(ids[(at + step) % 5])
    for _ in range(50):  # the other three elect a leader and commit
        sim.one(rng.randrange(10**9), 3)
    leader2 = sim.check_one_leader()
    other = ids[(at + 2) % 5] if leader2 != ids[(at + 2) % 5] else ids[(at + 3) % 5]
    sim.disconnect(other)
    for _ in range(50):  # again a leader without a majority
        sim.propose(leader2, rng.randrange(10**9))
    sim.run_for(sim.election_timeout_ticks // 2)
    for node_id in ids:
        sim.disconnect(node_id)
    # The first leader, its follower and `other` (which has the 50 committed entries).
    node_cls.rejected.clear()
    for node_id in (leader1, ids[(at + 1) % 5], other):
        sim.connect(node_id)
    for _ in range(50):
        sim.one(rng.randrange(10**9), 3)
    rounds = len(set(node_cls.rejected))
    for node_id in ids:
        sim.connect(node_id)
    sim.one(rng.randrange(10**9), 5)
    return rounds


def test_backup_far_behind_followers_catch_up_in_few_rounds(seed):
    rounds = backup_scenario(seed, RejectionCounter)
    # Two followers each hold 50 conflicting entries of one old term: fast backtracking
    # skips each such term in one round.
    assert rounds <= 6, f"{rounds} rejected AppendEntries positions (seed={seed})"


def test_backup_bound_would_catch_one_entry_per_round_backtracking(seed):
    assert backup_scenario(seed, NaiveBacktrack) > 20


def test_rpc_counts_stay_low(seed):
    sim = Simulation(seed, 3)
    leader = sim.check_one_leader()
    total1 = sim.network.requests_sent
    assert 1 <= total1 <= 30, f"{total1} RPCs to elect a leader"
    for _attempt in range(5):
        if _attempt:
            sim.run_for(sim.election_timeout_ticks)
        leader = sim.check_one_leader()
        total1 = sim.network.requests_sent
        iters = 10
        first = sim.propose(leader, 1)
        if not isinstance(first, Proposed):
            continue
        results = [sim.propose(leader, 2 + i) for i in range(iters)]
        if not all(isinstance(r, Proposed) and r.term == first.term for r in results):
            continue
        if any(sim.wait(r.index, 3, first.term) is None for r in results):
            continue
        total2 = sim.network.requests_sent
        assert total2 - total1 <= (iters + 1 + 3) * 3, f"{total2 - total1} RPCs for {iters} starts"
        break
    else:
        raise AssertionError(f"term changed too often (seed={seed})")
    # Idle: only heartbeats, at most one per peer per heartbeat interval.
    window = 10 * sim.config.heartbeat_interval_ticks
    before = sim.network.requests_sent
    sim.run_for(window)
    idle = sim.network.requests_sent - before
    assert idle <= 3 * 10, f"{idle} RPCs in {window} idle ticks"
