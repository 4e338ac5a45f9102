"""docs/ADDING_A_SYSTEM.md's worked example works: the counter in the simulator and in processes.

The same core runs under seeded faults in a `World` with its safety check after every event,
and in real node processes started through its `System` -- and a mutant that breaks one
rule of the core is caught by that check.
"""

from __future__ import annotations

import pytest

from distlab.cluster import Cluster
from distlab.examples.gcounter import COUNTER, CounterReplica, CounterSimSystem
from distlab.rpc import RemoteError
from distlab.sim import UNRELIABLE, SafetyViolation, World


def run_counter(system: CounterSimSystem, seed: int) -> World:
    world = World(system, seed, nodes=3, network=UNRELIABLE)
    for step in range(60):
        system.increment(world.names[step % 3])
        if step == 20:
            world.partition(["n0"], ["n1", "n2"])
        if step == 30:
            world.crash("n1")
        if step == 40:
            world.restart("n1")
            world.heal()
        world.run_for(3)
    return world


@pytest.mark.parametrize("seed", range(5))
def test_in_the_simulator_every_replica_converges_on_the_true_count(seed: int) -> None:
    system = CounterSimSystem()
    world = run_counter(system, seed)
    total = sum(system.increments.values())
    assert 50 <= total < 60, "n1 was down for some increments"
    assert world.wait_for(
        lambda: {s.fields["value"] for s in world.status().values()} == {total}, timeout_s=10
    )


class ForgetsItsOwnCount(CounterReplica):
    """A mutant: it trusts gossip about itself (a restarted node may then count less)."""

    def receive(self, sender, message):
        for node, count in message.counts:
            self.counts[node] = count  # no max(): an old message moves a count back


def test_the_safety_check_catches_a_core_that_lets_counts_go_back() -> None:
    class MutantSystem(CounterSimSystem):
        def boot(self, node_id, peers, rng):
            return ForgetsItsOwnCount(node_id, list(peers), rng, self.disk.get(node_id, 0))

    with pytest.raises(SafetyViolation, match="Monotonic"):
        for seed in range(5):
            run_counter(MutantSystem(), seed)


@pytest.mark.cluster
def test_in_real_processes_through_its_system() -> None:
    with Cluster.start(3, service=COUNTER, seed=4) as cluster:
        counter = cluster.client()
        for i in range(9):
            counter.increment(cluster.names[i % 3])
        cluster.crash("n2")
        cluster.restart("n2")  # its own 3 increments come back from its file
        assert cluster.wait_for(
            lambda: all(counter.value(name) == 9 for name in cluster.names), timeout_s=30
        )


@pytest.mark.cluster
def test_a_core_node_refuses_bad_steps_clearly_and_keeps_serving() -> None:
    with Cluster.start(2, service=COUNTER, seed=5) as cluster:
        rpc = cluster.client("n0", client_name="controller")
        bad = [
            ("n1", {"__msg__": "Exec", "fields": ["rm -rf /"]}, "unknown message type"),
            ("n1", {"__msg__": "Counts", "fields": ["not a tuple of pairs"]}, "Counts"),
            ("n1", [1, 2, 3], "expects a message"),
            ("mallory", {"__msg__": "Counts", "fields": [[["n1", 5]]]}, "not a peer"),
        ]
        for sender, message, complaint in bad:
            with pytest.raises(RemoteError, match=complaint):
                rpc.call("Core.step", sender, message, timeout=5.0)
        # Batches (what nodes send each other): all checked before any reaches the core.
        good = {"__msg__": "Counts", "fields": [[["n1", 5]]]}
        bad_batches = [
            (good, "expects a list"),
            ([good, {"__msg__": "Exec", "fields": []}], "unknown message type"),
            ([good, [1, 2]], "message 1 of the batch"),
        ]
        for batch, complaint in bad_batches:
            with pytest.raises(RemoteError, match=complaint):
                rpc.call("Core.step_many", "n1", batch, timeout=5.0)
        counter = cluster.client()
        assert counter.increment("n0") == 1  # still serving, nothing was merged
