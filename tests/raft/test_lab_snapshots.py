"""6.824 lab 2D equivalents in the simulator: snapshots, log compaction, InstallSnapshot.

Each service snapshots every SNAPSHOT_INTERVAL applied entries (as in the lab);
the persisted log must stay small, and followers that fall behind the leader's
snapshot must be brought back with InstallSnapshot.
"""

from __future__ import annotations

import random

import pytest

from distlab.sim import Simulation

SNAPSHOT_INTERVAL = 10
MAX_LOG_ENTRIES = 4 * SNAPSHOT_INTERVAL


def check_log_sizes(sim: Simulation) -> None:
    for node_id in sim.node_ids:
        held = len(sim.disks[node_id].entries)
        assert held <= MAX_LOG_ENTRIES, (
            f"{node_id} persists {held} log entries; snapshots should keep it under "
            f"{MAX_LOG_ENTRIES} (seed={sim.seed})"
        )


def snapshot_scenario(seed: int, *, disconnect: bool, reliable: bool, crash: bool) -> Simulation:
    """6.824's snapcommon: a victim misses batches of commands, then must catch up."""
    sim = Simulation(seed, 3, snapshot_interval=SNAPSHOT_INTERVAL)
    sim.set_unreliable(not reliable)
    rng = random.Random(seed)
    ids = sim.node_ids
    sim.one(rng.randrange(10**9), 3)
    leader1 = sim.check_one_leader()
    for i in range(30):
        victim = ids[(ids.index(leader1) + 1) % 3]
        sender = leader1
        if i % 3 == 1:
            sender, victim = victim, leader1
        if disconnect:
            sim.disconnect(victim)
            sim.one(rng.randrange(10**9), 2)
        if crash:
            sim.crash(victim)
            sim.one(rng.randrange(10**9), 2)
        # Enough commands for the others to snapshot past the victim's log.
        for _ in range(SNAPSHOT_INTERVAL // 2 + rng.randrange(SNAPSHOT_INTERVAL)):
            sim.propose(sender, rng.randrange(10**9))
        if disconnect or crash:
            sim.one(rng.randrange(10**9), 2)
        else:
            sim.one(rng.randrange(10**9), 3)
        check_log_sizes(sim)
        if disconnect:
            # The victim reconnects and must catch up, by InstallSnapshot if far enough behind.
            sim.connect(victim)
            sim.one(rng.randrange(10**9), 3)
            leader1 = sim.check_one_leader()
        if crash:
            sim.restart(victim)
            sim.one(rng.randrange(10**9), 3)
            leader1 = sim.check_one_leader()
    return sim


def test_snapshot_basic(seed):
    sim = snapshot_scenario(seed, disconnect=False, reliable=True, crash=False)
    assert all(sim.disks[n].snapshot is not None for n in sim.node_ids)


@pytest.mark.parametrize(
    ("disconnect", "reliable", "crash"),
    [(True, True, False), (True, False, False), (False, True, True), (False, False, True)],
    ids=["install", "install-unreliable", "install-crash", "install-unreliable-crash"],
)
def test_snapshot_install(seed, disconnect, reliable, crash):
    sim = snapshot_scenario(seed, disconnect=disconnect, reliable=reliable, crash=crash)
    assert sim.network.sent_by_type.get("InstallSnapshot", 0) > 0, "the install path never ran"


def test_restart_from_snapshot_alone_replays_nothing_before_it(seed):
    sim = Simulation(seed, 3, snapshot_interval=5)
    for command in range(23):
        sim.one(command, 3)
    leader = sim.check_one_leader()
    snapshot = sim.disks[leader].snapshot
    assert snapshot is not None and snapshot.last_included_index >= 20
    sim.crash(leader)
    sim.restart(leader)
    # The restarted service starts from the snapshot; the safety checker verified its digest.
    assert sim.services[leader].applied_index == snapshot.last_included_index
    sim.one("after", 3)
