"""6.824 lab 2C equivalents in the simulator: persistence, Figure 8, unreliable networks, churn.

A crash here loses everything the node had not handed to the driver for
persistence; a restart rebuilds it from its SimDisk alone. The shared scenarios live in
`distlab.sim.scenarios` (the learners' checks run the same ones, shorter);
the tests here run them against the library's own `RaftNode`.
"""

from __future__ import annotations

import random

import pytest

from distlab.raft import Proposed, RaftNode, Role
from distlab.sim import Simulation, scenarios


def test_persist1_survives_whole_cluster_and_leader_restarts(seed):
    scenarios.whole_cluster_restarts(seed, RaftNode)


def test_persist2_repeated_crashes_of_majorities(seed):
    scenarios.repeated_majority_crashes(seed, RaftNode, rounds=5)


def test_persist3_partitioned_leader_and_one_follower_crash_and_restart(seed):
    sim = Simulation(seed, 3)
    ids = sim.node_ids
    sim.one(101, 3)
    leader = sim.check_one_leader()
    at = ids.index(leader)
    sim.disconnect(ids[(at + 2) % 3])
    sim.one(102, 2)
    sim.crash(ids[at])
    sim.crash(ids[(at + 1) % 3])
    sim.connect(ids[(at + 2) % 3])
    sim.restart(ids[at])
    sim.one(103, 2)
    sim.restart(ids[(at + 1) % 3])
    sim.one(104, 3)


def test_a_crash_loses_only_what_was_not_persisted(seed):
    sim = Simulation(seed, 3)
    index_of_a = sim.one("a", 3)  # after the leader's no-op
    leader = sim.check_one_leader()
    term = sim.nodes[leader].current_term
    sim.crash(leader)
    assert sim.disks[leader].hard_state.current_term == term
    sim.restart(leader)
    node = sim.nodes[leader]
    # Hard state and log come back from the disk; commit index and role do not.
    assert node.current_term == term and node.log.last_index == index_of_a
    assert node.role is Role.FOLLOWER and node.commit_index == 0


def test_figure8_reliable(seed):
    scenarios.figure8(seed, RaftNode, iterations=400, unreliable=False)


def test_figure8_unreliable(seed):
    scenarios.figure8(seed, RaftNode, iterations=400, unreliable=True)


def test_unreliable_agreement(seed):
    scenarios.unreliable_agreement(seed, RaftNode, rounds=29)


def churn(seed: int, *, unreliable: bool, rounds: int = 20) -> int:
    """6.824's churn tests: clients keep proposing while servers crash, restart and move.

    Three simulated clients each propose a fresh value on a random server, and
    remember it once some service applied it at the index they were given. At the
    end every remembered value must be in the committed log. Returns how many
    values the clients saw committed (a schedule may crash a majority throughout).
    """
    sim = Simulation(seed, 5)
    sim.set_unreliable(unreliable)
    rng = random.Random(seed)
    ids = sim.node_ids
    committed_values: list[int] = []
    pending: dict[int, tuple[int, int, int]] = {}  # client -> (value, index, deadline)
    next_value = [0]

    def clients_step() -> None:
        for client in range(3):
            if client in pending:
                value, index, deadline = pending[client]
                _, applied = sim.n_committed(index)
                if applied is not None:
                    if applied == value:
                        committed_values.append(value)
                    del pending[client]
                elif sim.now > deadline:
                    del pending[client]
                continue
            next_value[0] += 1
            value = client * 1_000_000 + next_value[0]
            result = sim.propose(rng.choice(ids), value)
            if isinstance(result, Proposed):
                pending[client] = (value, result.index, sim.now + 2 * sim.election_timeout_ticks)

    for _ in range(rounds):
        roll = rng.random()
        if roll < 0.2:
            sim.disconnect(rng.choice(ids))
        roll = rng.random()
        if roll < 0.5:
            node_id = rng.choice(ids)
            if not sim.alive(node_id):
                sim.restart(node_id)
            sim.connect(node_id)
        if rng.random() < 0.2:
            sim.crash(rng.choice(ids))
        for _tick in range(sim.election_timeout_ticks * 7 // 10):
            clients_step()
            sim.run_for(1)

    sim.set_unreliable(False)
    for node_id in ids:
        if not sim.alive(node_id):
            sim.restart(node_id)
        sim.connect(node_id)
    sim.run_for(sim.election_timeout_ticks)
    last_index = sim.one(rng.randrange(10**9), 5)
    log = [sim.n_committed(index)[1] for index in range(1, last_index + 1)]
    missing = [value for value in committed_values if value not in log]
    assert not missing, f"committed values missing from the log: {missing[:5]} (seed={seed})"
    return len(committed_values)


@pytest.mark.parametrize("unreliable", [False, True], ids=["reliable", "unreliable"])
def test_churn(seed, unreliable):
    churn(seed, unreliable=unreliable)


def test_churn_is_not_vacuous():
    # Most schedules leave a majority up long enough for client values to commit.
    committed = [churn(seed, unreliable=False) for seed in range(20)]
    assert sum(1 for count in committed if count > 0) >= 15, committed
