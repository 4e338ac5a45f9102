"""6.824 lab 2A equivalents in the simulator: leader election.

Each test is seeded (``pytest --seed N`` replays N); safety is checked after every event.
The shared scenarios live in `distlab.sim.scenarios` (the learners' checks
run the same ones); the tests here run them against the library's own `RaftNode`.
"""

from __future__ import annotations

from distlab.raft import RaftNode
from distlab.sim import Simulation, scenarios


def test_initial_election_elects_one_leader_and_terms_stay_put(seed):
    scenarios.initial_election(seed, RaftNode)


def test_reelection_after_leader_disconnects_and_no_leader_without_majority(seed):
    # The old leader rejoining must not disturb the new one's term; then, on the same
    # cluster, nobody can be elected without a quorum.
    sim = scenarios.reelection_after_disconnect(seed, RaftNode)
    scenarios.leading_needs_a_quorum(sim)


def test_many_elections_with_three_of_seven_disconnected(seed):
    scenarios.many_elections(seed, RaftNode)


def test_split_votes_resolve_thanks_to_randomized_timeouts(seed):
    # Five nodes starting together: every run still ends with a single leader.
    for offset in range(5):
        sim = Simulation(seed * 100 + offset, 5)
        sim.check_one_leader()
        assert len(sim.statistics().leaders_by_term) >= 1
