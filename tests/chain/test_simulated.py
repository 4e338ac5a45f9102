"""Chains in the simulator: seeded sweeps with crashes and partitions of head, middle and
tail, judged by the chain's safety checks after every event and by the linearizability
checker at the end; mutants that break one rule each, caught; the no-manager split brain."""

from __future__ import annotations

import pytest

from distlab.chain.core import ChainNode
from distlab.chain.messages import Ack
from distlab.chain.simulated import FAULTS, ChainWorkload, chain_world, run_chain, split_brain
from distlab.sim import UNRELIABLE, SafetyViolation


def assert_correct(run) -> None:
    assert run.linearizable, f"seed {run.seed}: {run.verdict} after {run.faults}"
    assert run.acknowledged_writes_lost == 0
    assert run.converged, f"seed {run.seed}: membership did not converge after {run.faults}"
    assert run.acknowledged_writes > 50, "the run must not be vacuous"


@pytest.mark.parametrize("protocol", ["cr", "craq"])
@pytest.mark.parametrize("seed", range(3))
def test_a_chain_stays_linearizable_through_crashes_and_partitions(protocol, seed) -> None:
    run = run_chain(seed, protocol, network=UNRELIABLE, faults=4)
    assert_correct(run)
    assert len(run.reconfigurations) >= 3, "the manager removed and re-added nodes"


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["cr", "craq"])
@pytest.mark.parametrize("seed", range(3, 40))
def test_a_long_sweep_of_schedules(protocol, seed) -> None:
    assert_correct(run_chain(seed, protocol, network=UNRELIABLE, faults=6, chain_nodes=4))


def test_every_place_in_the_chain_is_crashed_and_cut_off_across_the_sweep() -> None:
    run = run_chain(5, "craq", faults=6)
    assert_correct(run)
    assert {fault.split(" (")[0] for fault in run.faults} == set(FAULTS)


def test_craq_spreads_reads_over_the_chain_and_cr_serves_them_at_the_tail() -> None:
    craq = run_chain(0, "craq", faults=0, write_fraction=0.1)
    cr = run_chain(0, "cr", faults=0, write_fraction=0.1)
    assert all(count > 0 for count in craq.reads_served.values())
    assert cr.reads_served["n1"] == cr.reads_served["n2"] == 0 < cr.reads_served["n3"]
    assert sum(craq.reads_asked_tail.values()) > 0, "some reads met a dirty version"


# -- mutants: each breaks one rule; the checks must catch every one -----------------------------


class ReadsDirtyVersions(ChainNode):
    """CRAQ without asking the tail: a node answers its newest dirty version."""

    def serve_read(self, op, key):
        if self.dirty.get(key):
            seq, value = self.dirty[key][-1]
            self.answer_read(op, key, seq, value, local=True)
        else:
            super().serve_read(op, key)


class AcksBeforeTheTail(ChainNode):
    """A node acknowledges an update as soon as it holds it, not when the tail does."""

    def _on_update(self, sender, update):
        super()._on_update(sender, update)
        if self.synced and update.seq == self.applied and not self.is_tail:
            self._commit(self.applied)
            self._send(sender, Ack(self.epoch, self.applied))


class TrustsTheRemovedNode(ChainNode):
    """When its successor is removed, a node counts its pending updates as done instead of
    sending them again (the paper's rule for a failed middle node, broken)."""

    def _adopt(self, epoch, members):
        super()._adopt(epoch, members)
        if self.position is not None and self.synced:
            self._commit(self.applied)


class ServesWithoutALease(ChainNode):
    """Answers reads whether or not the manager still counts it in the chain."""

    def lease_valid(self):
        return True


@pytest.mark.parametrize(
    "mutant, protocol, invariant",
    [
        (ReadsDirtyVersions, "craq", "CRAQ Reads Only Committed Versions"),
        (AcksBeforeTheTail, "cr", "Tail Acknowledges Only What Every Node Holds"),
        # it counts as committed what the new successor lacks: one check or the other
        # (a read of such a version) fires first
        (
            TrustsTheRemovedNode,
            "craq",
            "Tail Acknowledges Only What Every Node Holds|CRAQ Reads Only Committed Versions",
        ),
    ],
)
def test_the_safety_checks_catch_a_broken_chain(mutant, protocol, invariant) -> None:
    with pytest.raises(SafetyViolation, match=invariant) as caught:
        for seed in range(6):
            run_chain(seed, protocol, faults=3, node_factory=mutant)
    assert "seed=" in str(caught.value)


def test_the_checker_catches_stale_reads_from_a_node_serving_without_a_lease() -> None:
    safe = split_brain(0, manager=True, protocol="cr")
    broken = split_brain(0, manager=True, protocol="cr", node_factory=ServesWithoutALease)
    assert safe.linearizable and not safe.violations
    assert broken.verdict == "violation"


def test_without_a_manager_a_partition_makes_two_chains_and_the_checker_sees_it() -> None:
    run = split_brain(0, manager=False, protocol="cr")
    assert run.chains["n1"] == ("n1", "n2") and run.chains["n3"] == ("n3",)
    assert run.verdict == "violation"
    assert any(v.startswith("One Epoch At A Time") for v in run.violations)


def test_with_the_manager_the_same_partition_is_safe() -> None:
    for protocol in ("cr", "craq"):
        run = split_brain(0, manager=True, protocol=protocol)
        assert run.linearizable and not run.violations
        assert run.chains["n1"] == ("n1", "n2")  # the lone node was removed, not obeyed


def test_a_removed_node_is_fenced_by_its_old_epoch() -> None:
    world = chain_world(3, 3, protocol="cr")
    workload = ChainWorkload(world, write_fraction=0.8)
    workload.run_for(50)
    world.block("n0", "n1")  # the head loses the manager, not its successor
    world.block("n1", "n0")
    workload.run_for(150)
    fenced = sum(s.fields.get("stale_rejected", 0) for s in world.status().values())
    assert fenced > 0
    assert world.status()["n2"].fields["role"] == "head"


def test_bad_arguments_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="protocol"):
        chain_world(0, protocol="paxos")
    with pytest.raises(ValueError, match="chain_nodes"):
        chain_world(0, 0)
    with pytest.raises(ValueError, match="write_fraction"):
        ChainWorkload(chain_world(0), write_fraction=2)
