"""Primary-backup in the seeded simulator: every rule on passes a sweep of crash and
partition schedules; each rule off, and each mutant core, is caught -- by the rule's named
invariant and by the linearizability checker."""

from __future__ import annotations

import pytest

from distlab.check import History
from distlab.primary_backup.replica import Replica, ReplicaConfig, Rules
from distlab.primary_backup.simulated import (
    SimClient,
    divergence,
    lost_output,
    pb_world,
    run_schedule,
    split_brain,
    sweep,
)
from distlab.sim import UNRELIABLE, SafetyViolation


def assert_correct(results) -> None:
    for result in results:
        where = f"seed {result.seed} ({', '.join(result.faults)})"
        assert result.linearizable is True, where
        assert result.acknowledged_writes_lost == 0, where
        assert result.violations == (), where
        assert result.ok >= result.operations // 2, f"{where}: mostly unavailable"


def seeds(seed_override: int | None, default: range) -> list[int]:
    return [seed_override] if seed_override is not None else list(default)


def test_every_rule_on_a_short_sweep_is_linearizable_and_loses_nothing(seed_override) -> None:
    results = sweep(seeds(seed_override, range(40)), operations=40, faults=4)
    assert_correct(results)
    assert any(r.duplicate_replies for r in results), "failover re-sent no output: vacuous"
    assert {f.split()[0] for r in results for f in r.faults} >= {"crash", "cut", "restart", "heal"}


def test_every_rule_on_survives_an_unreliable_network(seed_override) -> None:
    assert_correct(
        [
            run_schedule(s, operations=40, faults=4, network=UNRELIABLE)
            for s in seeds(seed_override, range(20))
        ]
    )


def test_state_transfer_is_correct_too(seed_override) -> None:
    config = ReplicaConfig(replication="state")
    assert_correct(sweep(seeds(seed_override, range(20)), config, operations=40, faults=4))


@pytest.mark.slow
@pytest.mark.parametrize("network", ["reliable", "unreliable"])
def test_every_rule_on_a_long_sweep(network: str) -> None:
    from distlab.sim import RELIABLE

    config = RELIABLE if network == "reliable" else UNRELIABLE
    assert_correct([run_schedule(s, operations=60, faults=6, network=config) for s in range(400)])


# -- each rule off finds the failure it prevents ---------------------------------------------


def test_without_logged_nondeterminism_the_backups_state_diverges() -> None:
    assert divergence(1).identical
    result = divergence(1, log_nondeterminism=False)
    assert not result.identical
    assert {"_clock", "_random"} <= set(result.diff.cells)
    assert [v.rule for v in result.violations] == ["Backup Replays Identically"]


def test_without_the_output_rule_a_client_holds_a_reply_the_new_primary_never_had() -> None:
    kept = lost_output(1)
    assert kept.linearizable is True and kept.acknowledged_writes_lost == 0
    assert kept.violations == ()
    broken = lost_output(1, output_rule=False)
    assert broken.acknowledged_writes_lost == 1
    assert broken.linearizable is False
    assert {v.rule for v in broken.violations} == {"Output Rule", "Acknowledged Operations Survive"}


def test_without_test_and_set_a_partition_leaves_two_live_replicas() -> None:
    kept = split_brain(1)
    assert kept.linearizable is True and len(kept.live_replicas) == 1
    assert kept.violations == ()
    broken = split_brain(1, test_and_set=False)
    assert broken.live_replicas == ("n0", "n1")
    assert broken.linearizable is False
    assert [v.rule for v in broken.violations] == ["At Most One Live Replica"]
    assert "violation" in broken.check.verdict


@pytest.mark.parametrize(
    ("rules", "rule"),
    [
        (Rules(output_rule=False), "Output Rule"),
        (Rules(test_and_set=False), "At Most One Live Replica"),
        (Rules(log_nondeterminism=False), "Backup Replays Identically"),
    ],
)
def test_each_rule_off_is_caught_by_the_sweep(rules: Rules, rule: str) -> None:
    with pytest.raises(SafetyViolation, match=rule):
        sweep(range(10), ReplicaConfig(rules=rules), operations=40, faults=4)


# -- mutants: cores that break one rule by mistake --------------------------------------------


class ReplaysInterruptsWhereItIs(Replica):
    """Injects a timer interrupt at its own instruction count, not the logged one."""

    def _replay_interrupt(self, entry):
        from dataclasses import replace

        super()._replay_interrupt(replace(entry, at_instruction=self.machine.instructions))


class TakesARefusalForAYes(Replica):
    """Misreads the arbiter: goes live whatever the answer."""

    def arbiter_answered(self, granted, holder):
        super().arbiter_answered(True, holder)


class GoesLiveWithoutReplaying(Replica):
    """Takes over with what it has replayed so far, dropping what it holds but has not run."""

    def _replay(self, limit):
        if limit is not None:
            super()._replay(limit)


@pytest.mark.parametrize(
    ("mutant", "rule"),
    [
        (ReplaysInterruptsWhereItIs, "Backup Replays Identically"),
        (TakesARefusalForAYes, "At Most One Live Replica"),
    ],
)
def test_the_sweep_catches_a_mutant(mutant: type[Replica], rule: str) -> None:
    with pytest.raises(SafetyViolation, match=rule):
        sweep(range(10), operations=40, faults=4, replica_cls=mutant)


def burst_then_crash(replica_cls: type[Replica]):
    """Ten clients write at once; once all ten are acknowledged, the primary crashes."""
    config = ReplicaConfig(replay_per_tick=1, failover_timeout_ticks=2)  # lags, fails fast
    world = pb_world(3, config, replica_cls=replica_cls)
    system = world.system
    for i in range(10):
        world.operate("n0", lambda core, i=i: core.submit(f"c{i}", 1, "put", f"k{i}", "v"))
    assert world.run_until(lambda: len(system.delivered) == 10, 50)
    for (_client, _seq), (reply, *_) in system.delivered.items():
        system.acknowledge(reply, is_write=True)
    assert world.nodes["n1"].replayed_index < 10  # the backup holds them, replay lags
    world.crash("n0")
    return world


def test_a_backup_that_goes_live_before_replaying_everything_loses_acknowledged_writes() -> None:
    world = burst_then_crash(GoesLiveWithoutReplaying)
    with pytest.raises(SafetyViolation, match="Acknowledged Operations Survive"):
        world.run_for(100)
    world = burst_then_crash(Replica)  # the correct core replays all it holds first
    world.run_for(100)
    assert world.nodes["n1"].machine.user_memory() == {f"k{i}": "v" for i in range(10)}


def test_a_malformed_request_is_refused_clearly() -> None:
    world = pb_world(1)
    client = SimClient(world, "c", History())
    with pytest.raises(ValueError, match="malformed"):
        client.put("_session/c", "forged")
