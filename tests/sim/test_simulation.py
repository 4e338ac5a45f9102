"""Simulation: determinism, crash semantics, fault controls, failure messages, the timeline."""

from __future__ import annotations

import pytest

from distlab.raft import NOOP, HardState, Proposed, RaftNode
from distlab.sim import Simulation, SimulationFailure, run_random_schedule
from distlab.viz.raft_timeline import draw_raft_timeline, timeline_summary


def busy_run(seed: int) -> Simulation:
    sim = Simulation(seed, 5, snapshot_interval=5)
    sim.set_unreliable(True)
    for i in range(15):
        sim.one(i, 3)
    sim.crash(sim.check_one_leader())
    sim.partition(["n0", "n1"], ["n2", "n3", "n4"])
    sim.run_for(60)
    sim.heal()
    sim.one("end", 4)
    return sim


def test_same_seed_gives_the_same_run_event_for_event(seed):
    first, second = busy_run(seed), busy_run(seed)
    assert first.timeline == second.timeline
    assert first.statistics() == second.statistics()
    assert timeline_summary(first) == timeline_summary(second)
    other = busy_run(seed + 100)
    assert (other.timeline, other.statistics()) != (first.timeline, first.statistics())


def test_restart_sees_only_what_the_driver_persisted(seed):
    sim = Simulation(seed, 3)
    leader = sim.check_one_leader()
    follower = next(n for n in sim.node_ids if n != leader and sim.nodes[n].voted_for == leader)
    sim.restart(follower)
    assert sim.nodes[follower].voted_for == leader

    class VoteNotPersisted(RaftNode):
        def take_ready(self):
            ready = super().take_ready()
            if ready.hard_state is not None:
                object.__setattr__(ready, "hard_state", HardState(ready.hard_state.current_term))
            return ready

    sim = Simulation(seed, 3, node_cls=VoteNotPersisted)
    leader = sim.check_one_leader()
    follower = next(n for n in sim.node_ids if n != leader)
    sim.restart(follower)
    assert sim.nodes[follower].voted_for is None  # lost in the crash: it was never written


def test_messages_to_a_crashed_node_are_lost_and_it_catches_up_after_restart(seed):
    sim = Simulation(seed, 3)
    sim.one("a", 3)
    leader = sim.check_one_leader()
    victim = next(n for n in sim.node_ids if n != leader)
    sim.crash(victim)
    assert sim.propose(victim, "x") is None
    for command in "bcd":
        index_of_last = sim.one(command, 2)
    sim.restart(victim)
    sim.wait(index_of_last, 3)


def test_one_way_partition_stops_commits_but_not_heartbeats(seed):
    sim = Simulation(seed, 3)
    sim.one("a", 3)
    leader = sim.check_one_leader()
    term = sim.nodes[leader].current_term
    for other in sim.node_ids:
        if other != leader:
            sim.block(other, leader)  # the leader talks, nobody's answers arrive
    result = sim.propose(leader, "b")
    assert isinstance(result, Proposed)
    sim.run_for(3 * sim.election_timeout_ticks)
    # Heartbeats still arrive, so nobody starts an election; without replies nothing commits.
    assert sim.n_committed(result.index) == (0, None)
    assert sim.check_terms() == term and sim.check_one_leader() == leader
    sim.heal()
    sim.wait(result.index, 3)
    assert sim.n_committed(result.index) == (3, "b")


def test_helper_failures_name_the_seed(seed):
    sim = Simulation(seed, 3)
    for node_id in sim.node_ids:
        sim.disconnect(node_id)
    with pytest.raises(SimulationFailure, match=rf"seed={seed}.*--seed {seed}"):
        sim.check_one_leader()


def test_misuse_is_reported_clearly():
    sim = Simulation(0, 3)
    with pytest.raises(ValueError, match="no node named 'n9'"):
        sim.crash("n9")
    with pytest.raises(ValueError, match="at least one node"):
        Simulation(0, 0)


def test_single_node_cluster_commits_alone(seed):
    sim = Simulation(seed, 1)
    # Index 1 is the no-op it appended on electing itself, committed at once too.
    assert sim.one("solo", 1) == 2
    assert sim.n_committed(1) == (1, NOOP)


def test_random_schedule_is_replayable(seed):
    assert run_random_schedule(seed, nodes=3, ticks=200) == run_random_schedule(
        seed, nodes=3, ticks=200
    )


def test_timeline_summary_and_drawing(seed):
    sim = Simulation(seed, 3)
    leader = sim.check_one_leader()
    sim.crash(leader)
    sim.check_one_leader()
    sim.restart(leader)
    sim.run_for(10)
    text = timeline_summary(sim)
    lines = text.splitlines()
    assert lines[0].startswith("t=") and "became leader of term" in lines[0]
    assert f"{leader} crashed" in text and f"{leader} restarted from its disk" in text
    assert sum("became leader" in line for line in lines) >= 2
    figure = draw_raft_timeline(sim)
    axes = figure.axes[0]
    assert [label.get_text() for label in axes.get_yticklabels()] == ["n2", "n1", "n0"]
    assert len(axes.collections) >= 4  # role bars for each node, plus the crash


def test_failover_time_follows_the_election_timeout():
    from distlab.raft import RaftConfig
    from distlab.sim.experiments import failover_trials

    narrow = failover_trials(range(40), config=RaftConfig(election_timeout_ticks=(10, 11)))
    wide = failover_trials(range(40), config=RaftConfig(election_timeout_ticks=(10, 40)))
    # A new leader can only appear after some timeout fires (at least 10 ticks minus
    # the time since the last heartbeat), and is found within a few timeouts.
    for trial in narrow + wide:
        assert 7 <= trial.ticks_to_new_leader <= 200
    # Nearly equal timeouts make nodes stand at once: split votes are more common.
    assert sum(t.split for t in narrow) > sum(t.split for t in wide)
    assert failover_trials(range(5)) == failover_trials(range(5))  # deterministic
