"""6.824 lab 2A equivalents in the simulator: leader election.

Each test is seeded (``pytest --seed N`` replays N); safety is checked after every event.
"""

from __future__ import annotations

import random

from distlab.sim import Simulation


def test_initial_election_elects_one_leader_and_terms_stay_put(seed):
    sim = Simulation(seed, 3)
    sim.check_one_leader()
    sim.run_for(2)
    term1 = sim.check_terms()
    assert term1 >= 1
    # With no failures there is no reason for a new election.
    sim.run_for(2 * sim.election_timeout_ticks)
    assert sim.check_terms() == term1
    sim.check_one_leader()


def test_reelection_after_leader_disconnects_and_no_leader_without_majority(seed):
    sim = Simulation(seed, 3)
    ids = sim.node_ids
    leader1 = sim.check_one_leader()
    sim.disconnect(leader1)
    new_leader = sim.check_one_leader()
    assert new_leader != leader1
    # The old leader rejoining must not disturb the new one's term.
    sim.connect(leader1)
    leader2 = sim.check_one_leader()
    # Without a quorum nobody can be elected.
    other = ids[(ids.index(leader2) + 1) % 3]
    sim.disconnect(leader2)
    sim.disconnect(other)
    sim.run_for(2 * sim.election_timeout_ticks)
    sim.check_no_leader()
    sim.connect(other)  # a quorum again
    sim.check_one_leader()
    sim.connect(leader2)
    sim.check_one_leader()


def test_many_elections_with_three_of_seven_disconnected(seed):
    sim = Simulation(seed, 7)
    rng = random.Random(seed)
    sim.check_one_leader()
    for _ in range(10):
        cut = rng.sample(sim.node_ids, 3)
        for node_id in cut:
            sim.disconnect(node_id)
        # Four of seven remain: a majority, so a leader exists or is elected.
        sim.check_one_leader()
        for node_id in cut:
            sim.connect(node_id)
    sim.check_one_leader()


def test_split_votes_resolve_thanks_to_randomized_timeouts(seed):
    # Five nodes starting together: every run still ends with a single leader.
    for offset in range(5):
        sim = Simulation(seed * 100 + offset, 5)
        sim.check_one_leader()
        assert len(sim.statistics().leaders_by_term) >= 1
