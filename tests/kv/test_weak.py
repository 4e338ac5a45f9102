from __future__ import annotations

import random

import pytest

from distlab.kv.weak import AntiEntropy, Stamp, Update, WeakReplica


def make(names=("a", "b", "c"), every=3, seed=1):
    return {
        name: WeakReplica(
            name,
            [peer for peer in names if peer != name],
            random.Random(f"{seed}-{name}"),
            anti_entropy_every_ticks=every,
        )
        for name in names
    }


def deliver(replicas, blocked=frozenset()):
    """Deliver every queued message unless (src, dst) is blocked; returns how many."""
    count = 0
    for name, replica in replicas.items():
        for envelope in replica.take_ready().messages:
            if (name, envelope.dst) not in blocked:
                replicas[envelope.dst].receive(name, envelope.message)
                count += 1
    return count


def test_write_is_served_locally_and_pushed_to_peers():
    replicas = make()
    replicas["a"].put("x", "1")
    assert replicas["a"].get("x") == "1"
    assert replicas["b"].get("x") == ""  # not yet delivered: a stale read
    deliver(replicas)
    assert {r.get("x") for r in replicas.values()} == {"1"}


def test_last_writer_wins_by_lamport_stamp_with_node_id_tiebreak():
    replicas = make()
    replicas["a"].put("x", "from-a")
    replicas["b"].put("x", "from-b")  # concurrent: same counter, "b" > "a"
    deliver(replicas)
    assert {r.get("x") for r in replicas.values()} == {"from-b"}


def test_later_write_wins_after_seeing_earlier_one():
    replicas = make()
    replicas["b"].put("x", "first")
    deliver(replicas)
    replicas["a"].put("x", "second")  # a's clock moved past b's stamp
    deliver(replicas)
    assert {r.get("x") for r in replicas.values()} == {"second"}


def test_partition_serves_both_sides_then_anti_entropy_converges_after_heal():
    replicas = make(every=2)
    minority, majority = {"a"}, {"b", "c"}
    blocked = {(s, d) for s in minority for d in majority} | {
        (s, d) for s in majority for d in minority
    }
    replicas["a"].put("x", "left")
    replicas["b"].put("y", "right")
    for _ in range(6):
        for replica in replicas.values():
            replica.tick()
        deliver(replicas, blocked)
    assert replicas["a"].get("y") == "" and replicas["c"].get("y") == "right"
    for _ in range(40):  # healed: only anti-entropy can repair the lost pushes
        for replica in replicas.values():
            replica.tick()
        deliver(replicas)
    tables = [r.snapshot_table() for r in replicas.values()]
    assert all(t == {"x": "left", "y": "right"} for t in tables)


def test_concurrent_appends_lose_one_suffix():
    replicas = make()
    replicas["a"].append("log", "A")
    replicas["b"].append("log", "B")
    deliver(replicas)
    assert {r.get("log") for r in replicas.values()} in ({"A"}, {"B"})


def test_old_update_is_ignored_and_counted():
    replica = make()["a"]
    replica.receive("b", Update("x", "new", Stamp(5, "b")))
    replica.receive("c", AntiEntropy((Update("x", "old", Stamp(2, "c")),)))
    assert replica.get("x") == "new"
    stats = replica.statistics()
    assert (stats.merged_updates, stats.ignored_updates, stats.lamport_clock) == (1, 1, 5)


def test_misuse_is_reported():
    with pytest.raises(ValueError, match="own peer"):
        WeakReplica("a", ["a"], random.Random(0))
    with pytest.raises(TypeError, match="unexpected message"):
        make()["a"].receive("b", "hello")


def test_ready_lists_changed_entries_to_persist_and_recover_rebuilds_the_table():
    replicas = make()
    replicas["a"].put("x", "1")
    replicas["a"].receive("b", Update("y", "2", Stamp(7, "b")))
    ready = replicas["a"].take_ready()
    assert ready.must_persist and [(u.key, u.value) for u in ready.writes] == [
        ("x", "1"),
        ("y", "2"),
    ]
    assert [e.dst for e in ready.messages] == ["b", "c"]  # the eager push of x
    assert not replicas["a"].has_ready()
    reborn = make()["a"]
    assert reborn.recover(ready.writes) == 2
    assert reborn.snapshot_table() == {"x": "1", "y": "2"} and not reborn.has_ready()
    assert reborn.put("z", "3").counter == 8  # its Lamport clock moved past what it recovered
