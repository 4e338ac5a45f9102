"""The KV-on-Raft simulation harness: deterministic, and honest about what clerks saw."""

from __future__ import annotations

from distlab.check import check_linearizable
from distlab.kv.state_machine import Command
from distlab.sim.kv_sim import KVRaftSimulation, run_kv_workload
from tests.assignments.implementations import KVOnRaft


def _events(seed: int) -> list[tuple]:
    result = run_kv_workload(
        KVOnRaft, seed, ticks=300, fault_every_ticks=30, crashes=True, partitions=True
    )
    return [
        (o.client, o.kind, o.key, o.value, o.output, o.invoke, o.complete, o.status)
        for o in result.history.operations()
    ]


def test_same_seed_same_history_event_for_event():
    assert _events(3) == _events(3)
    assert _events(3) != _events(4)


def test_workload_makes_progress_and_is_linearizable_under_the_nemesis():
    result = run_kv_workload(
        KVOnRaft, 2, fault_every_ticks=30, crashes=True, partitions=True, unreliable=True
    )
    assert result.faults > 5 and result.completed > 50
    assert check_linearizable(result.history).verdict == "ok"
    appended = [c.value for c in result.acknowledged if c.op == "append"]
    assert all(token in "".join(result.final_values.values()) for token in appended)


def test_a_restarted_server_is_rebuilt_from_the_log():
    sim = KVRaftSimulation(1, 3, KVOnRaft)
    leader = sim.check_one_leader()
    replies = []
    sim.send_request(leader, Command("c", 1, "append", "k", "v"), lambda v, e: replies.append(e))
    sim.run_for(3 * sim.election_timeout_ticks)
    assert replies == [None]
    follower = next(n for n in sim.node_ids if n != leader)
    sim.crash(follower)
    assert sim.servers[follower] is None
    sim.restart(follower)
    sim.run_for(3 * sim.election_timeout_ticks)
    assert sim.servers[follower].data == {"k": "v"}  # replayed from index 1
