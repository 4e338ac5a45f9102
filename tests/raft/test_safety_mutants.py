"""The checks can fail: deliberately broken Raft variants must be caught.

Each mutant breaks one rule of Figure 2. The simulator's safety checker (or the
core's own invariant assertions, reported the same way) must flag a violation
for at least one seed of a small set, while the correct core passes them all.
"""

from __future__ import annotations

import pytest

from distlab.raft import Proposed, RaftNode, Role
from distlab.sim import SafetyViolation, Simulation, run_random_schedule


class VotesForAnyLog(RaftNode):
    """Skips §5.4.1's up-to-date check: grants votes to candidates with stale logs."""

    def _candidate_log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return True


class CommitsOldTermsByCounting(RaftNode):
    """Ignores Figure 8: commits any entry stored on a majority, whatever its term."""

    def _advance_commit_index(self) -> None:
        matched = sorted([self.log.last_index, *self.match_index.values()], reverse=True)
        majority_index = matched[self._majority - 1]
        if majority_index > self.commit_index:
            self.commit_index = majority_index


class ForgetsItsVote(RaftNode):
    """Votes again in the same term (as if voted_for were never persisted)."""

    def _handle_request_vote(self, sender, request):
        self.voted_for = None
        super()._handle_request_vote(sender, request)


def figure8_paper(seed: int, node_cls: type[RaftNode] = RaftNode) -> Simulation:
    """The paper's Figure 8, scripted with partitions and crashes on five nodes.

    (a) S1 leads and replicates X only to S2. (b) S5 wins a later term with votes
    from S3, S4 and puts Y at the same index, replicating it nowhere. (c) S1 or S2
    leads again and copies X to a majority -- X is from an old term, so it must not
    count as committed. (d) That leader crashes; S5 wins (its last term is newer)
    and overwrites X with Y everywhere. Correct Raft never applied X, so this is safe.
    """
    sim = Simulation(seed, 5, node_cls=node_cls)
    ids = list(sim.node_ids)
    sim.one("base", 5)
    s1 = sim.check_one_leader()
    rest = [n for n in ids if n != s1]
    s2, group = rest[0], rest[1:]
    # (a)
    sim.partition([s1, s2], group)
    assert isinstance(sim.propose(s1, "X"), Proposed)
    sim.run_for(3)
    assert sim.nodes[s2].log.last_index == 2, "X should have reached S2"

    # (b) the majority side elects S5, which takes Y and is cut off at once
    def group_leader():
        return next((n for n in group if sim.nodes[n].role is Role.LEADER), None)

    assert sim.run_until(lambda: group_leader() is not None, 40 * sim.election_timeout_ticks)
    s5 = group_leader()
    assert isinstance(sim.propose(s5, "Y"), Proposed)
    sim.heal()
    sim.disconnect(s5)

    # (c) only S1 or S2 (holding X) can win now; they copy X to S3/S4
    def x_holders():
        return [
            n
            for n in ids
            if n != s5 and sim.nodes[n].log.term_at(2) == sim.nodes[s1].log.term_at(2)
        ]

    def new_leader():
        return next(
            (
                n
                for n in (s1, s2)
                if sim.nodes[n].role is Role.LEADER
                and sim.nodes[n].current_term > sim.nodes[s5].current_term
            ),
            None,
        )

    assert sim.run_until(
        lambda: new_leader() is not None and len(x_holders()) >= 3, 40 * sim.election_timeout_ticks
    )
    leader_c = new_leader()
    sim.run_for(3 * sim.config.heartbeat_interval_ticks)

    # (d) S1 and S2 crash; S5 returns and is the only possible winner
    sim.crash(s1)
    sim.crash(s2)
    sim.connect(s5)
    sim.one("Z", 3)
    assert sim.n_committed(2)[1] == "Y", "the Figure 8 situation did not arise"
    del leader_c
    sim.restart(s1)
    sim.restart(s2)
    sim.one("end", 5)
    return sim


def test_figure8_paper_scenario_is_safe_with_correct_raft(seed):
    figure8_paper(seed)


def test_figure8_paper_scenario_catches_committing_old_terms_by_counting(seed):
    with pytest.raises(SafetyViolation) as caught:
        figure8_paper(seed, CommitsOldTermsByCounting)
    assert f"seed={seed}" in str(caught.value)


def caught_by_random_schedules(node_cls: type[RaftNode], seeds: range) -> list[str]:
    found = []
    for seed in seeds:
        try:
            run_random_schedule(seed, nodes=5, ticks=300, node_cls=node_cls)
        except SafetyViolation as violation:
            found.append(violation.property_name)
    return found


def test_random_schedules_catch_a_missing_up_to_date_check():
    found = caught_by_random_schedules(VotesForAnyLog, range(20))
    assert found, "no schedule noticed stale logs winning elections"
    assert set(found) & {"Leader Completeness", "State Machine Safety", "Core invariant"}


def test_random_schedules_catch_a_forgotten_vote():
    found = caught_by_random_schedules(ForgetsItsVote, range(20))
    assert "Election Safety" in found or "Core invariant" in found


def test_correct_raft_passes_the_same_schedules():
    assert caught_by_random_schedules(RaftNode, range(20)) == []
