"""The checks can fail: deliberately broken Raft variants must be caught.

Each mutant breaks one rule of Figure 2 by overriding one of `RaftNode`'s documented
hooks. The simulator's safety checker (or the core's own invariant assertions, reported
the same way) must flag a violation for at least one seed of a small set, while the
correct core passes them all.
"""

from __future__ import annotations

import pytest

from distlab.raft import RaftNode
from distlab.sim import SafetyViolation, Simulation, run_random_schedule, scenarios


class VotesForAnyLog(RaftNode):
    """Skips §5.4.1's up-to-date check: grants votes to candidates with stale logs."""

    def candidate_log_is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        return True


class CommitsOldTermsByCounting(RaftNode):
    """Ignores Figure 8: commits any entry stored on a majority, whatever its term."""

    def advance_commit_index(self) -> None:
        matched = sorted([self.log.last_index, *self.match_index.values()], reverse=True)
        majority_index = matched[self.majority - 1]
        if majority_index > self.commit_index:
            self.commit_index = majority_index


class ForgetsItsVote(RaftNode):
    """Votes again in the same term (as if voted_for were never persisted)."""

    def handle_request_vote(self, sender, request):
        self.voted_for = None
        super().handle_request_vote(sender, request)


def figure8_paper(seed: int, node_cls: type[RaftNode] = RaftNode) -> Simulation:
    """The paper's Figure 8 (`distlab.sim.scenarios.figure8_paper`), checked to have really arisen.

    Correct Raft never applied X, so the scenario is safe; S5's Y must own index 2 in the
    end, otherwise the schedule never built the situation and the test proves nothing.
    """
    sim = scenarios.figure8_paper(seed, node_cls)
    assert sim.n_committed(2)[1] == "Y", "the Figure 8 situation did not arise"
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
