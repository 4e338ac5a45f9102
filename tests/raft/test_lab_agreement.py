"""6.824 lab 2B equivalents in the simulator: log replication and agreement.

The shared scenarios live in `distlab.sim.scenarios` (the learners' checks
run the same ones); the tests here run them against the library's own `RaftNode` and
add what only the library promises (RPC counts and bytes, fast backtracking).
"""

from __future__ import annotations

import random
from typing import ClassVar

from distlab.raft import AppendEntriesReply, Proposed, RaftNode
from distlab.sim import Simulation, scenarios


def test_basic_agreement(seed):
    scenarios.basic_agreement(seed, RaftNode)


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
    scenarios.agreement_despite_disconnected_follower(seed, RaftNode)


def test_agreement_after_the_leader_fails(seed):
    scenarios.agreement_after_leader_crash(seed, RaftNode)


def test_no_agreement_without_a_majority(seed):
    def next_entry_lands_after_the_kept_log(phase: str, sim: Simulation) -> None:
        assert phase == "reconnected"
        # Index 3 holds the uncommitted 20 on some servers (after the first no-op and 10);
        # the new leader appends its own no-op first: a new entry lands at 4 or 5.
        leader2 = sim.check_one_leader()
        result = sim.propose(leader2, 30)
        assert isinstance(result, Proposed) and 4 <= result.index <= 5, result

    scenarios.no_agreement_without_majority(
        seed, RaftNode, checkpoint=next_entry_lands_after_the_kept_log
    )


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
    scenarios.stale_leader_entries_replaced(seed, RaftNode)


class RejectionCounter(RaftNode):
    """A spy: records each AppendEntries this follower rejected (its prev_log_index)."""

    rejected: ClassVar[list[tuple[str, int]]] = []

    def handle_append_entries(self, sender, request):
        before = len(self._messages)  # white-box: the spy reads the core's outbox
        super().handle_append_entries(sender, request)
        reply = self._messages[before].message if len(self._messages) > before else None
        if (
            isinstance(reply, AppendEntriesReply)
            and not reply.success
            and reply.term == request.term
        ):
            RejectionCounter.rejected.append((self.node_id, request.prev_log_index))


class NaiveBacktrack(RejectionCounter):
    """The paper's basic rule without the optimisation: step back one entry per rejection."""

    def handle_append_entries_reply(self, sender, reply):
        if not reply.success and self.role.value == "leader" and reply.term == self.current_term:
            self._probing.add(sender)  # white-box: as the core does after a rejection
            self.next_index[sender] = max(self.match_index[sender] + 1, self.next_index[sender] - 1)
            self.send_append_entries(sender)
            return
        super().handle_append_entries_reply(sender, reply)


def backup_scenario(seed: int, node_cls: type[RejectionCounter]) -> int:
    """6.824's TestBackup2B; returns how many distinct AppendEntries positions were rejected
    while the two far-behind followers caught up at the end."""
    rounds: list[int] = []

    def count_rejections(phase: str, sim: Simulation) -> None:
        if phase == "catch_up_begins":
            node_cls.rejected.clear()
        elif phase == "catch_up_done":
            rounds.append(len(set(node_cls.rejected)))

    scenarios.far_behind_followers_catch_up(seed, node_cls, checkpoint=count_rejections)
    assert len(rounds) == 1, "the scenario never reached the end of its catch-up phase"
    return rounds[0]


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
