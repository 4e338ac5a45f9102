"""Raft scenarios in the simulator, each a claim that a node class must make true.

What it is: the MIT 6.824 Raft lab's tests (2A elections, 2B agreement, 2C
persistence and Figure 8), as functions of ``(seed, node_cls)`` that raise
`SimulationFailure` (naming the seed) or `AssertionError` when the claim fails.
The simulator checks Raft's safety properties after every event as well, so a
scenario also fails on, say, two leaders in one term. The assignments' check
cells run them over a few fixed seeds: the same code gives the same verdict on
every machine.

They run Raft as the library and the real-process driver do, with the new leader's
blank entry (§8, ``RaftConfig(noop_on_election=True)``), so a log holds a no-op at
the start of every leader's term; where 6.824 counts indices from 1, these count
past the no-op, and say so. Only the paper's Figure 8 runs without it, because the
no-op is precisely what keeps that situation from arising.

This module is the one home of these scenarios: tests/raft runs them against
the library's own `RaftNode`, the assignments against a learner's class. It lives
with the simulator, not with the assignments, so the core's tests need nothing
from `distlab.assignments`. Each returns its `Simulation` so that a test can
check more at the end, and the longer ones take a ``checkpoint`` callback, called
with a phase name and the simulation, where a test wants to look in the middle.
The defaults (sizes, rounds, no checkpoint) are what the assignments run:
changing them changes the learners' verdicts.
What it must never do: use the wall clock or unseeded randomness.
Where it fits: built on `distlab.sim.simulation` and `distlab.sim.faults`;
`distlab.assignments.raft_election` (part 1) and `distlab.assignments.raft_log`
(part 2) pick from these; tests/raft calls them too.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from distlab.raft import Proposed, RaftConfig, RaftNode
from distlab.sim.faults import run_random_schedule
from distlab.sim.simulation import Simulation

NodeClass = type[RaftNode]
Checkpoint = Callable[[str, Simulation], None]
"""Called as ``checkpoint(phase, sim)`` at the named phases a scenario documents."""


def _no_checkpoint(phase: str, sim: Simulation) -> None:
    """The default checkpoint: look at nothing, change nothing."""


# ------------------------------------------------------------------------------------------
# Part 1: elections (6.824 2A)
# ------------------------------------------------------------------------------------------


def initial_election(seed: int, node_cls: NodeClass) -> Simulation:
    """Three servers elect one leader, and without failures the term stays put."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    sim.check_one_leader()
    sim.run_for(2)
    term = sim.check_terms()
    assert term >= 1, f"term is {term} after an election (seed={seed})"
    sim.run_for(2 * sim.election_timeout_ticks)
    assert sim.check_terms() == term, f"term changed without any failure (seed={seed})"
    sim.check_one_leader()
    return sim


def _leader_replaced(seed: int, node_cls: NodeClass, *, crash: bool) -> Simulation:
    """Take the leader away (cut off or crashed), expect a new one, then bring it back."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    take_away, bring_back = (sim.crash, sim.restart) if crash else (sim.disconnect, sim.connect)
    leader1 = sim.check_one_leader()
    take_away(leader1)
    leader2 = sim.check_one_leader()
    if crash:
        assert leader2 != leader1, f"no new leader after {leader1} crashed (seed={seed})"
    else:
        assert leader2 != leader1, f"{leader1} is still the leader while cut off (seed={seed})"
    bring_back(leader1)
    sim.check_one_leader()
    return sim


def reelection_after_disconnect(seed: int, node_cls: NodeClass) -> Simulation:
    """A disconnected leader is replaced; when it comes back it does not disturb the new one."""
    return _leader_replaced(seed, node_cls, crash=False)


def reelection_after_crash(seed: int, node_cls: NodeClass) -> Simulation:
    """A crashed leader is replaced; after its restart there is still exactly one leader."""
    return _leader_replaced(seed, node_cls, crash=True)


def no_leader_without_majority(seed: int, node_cls: NodeClass) -> Simulation:
    """With two of three servers cut off nobody may lead; with a quorum back, someone does."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    leading_needs_a_quorum(sim)
    return sim


def leading_needs_a_quorum(sim: Simulation) -> None:
    """On a running three-server simulation: cut off the leader and one more; nobody may
    lead. Reconnect the other (a quorum again): one leader; then the old one: still one."""
    ids = sim.node_ids
    leader = sim.check_one_leader()
    other = ids[(ids.index(leader) + 1) % 3]
    sim.disconnect(leader)
    sim.disconnect(other)
    sim.run_for(2 * sim.election_timeout_ticks)
    sim.check_no_leader()
    sim.connect(other)
    sim.check_one_leader()
    sim.connect(leader)
    sim.check_one_leader()


def many_elections(seed: int, node_cls: NodeClass) -> Simulation:
    """Seven servers; ten times three random ones are cut off: four still elect a leader."""
    sim = Simulation(seed, 7, node_cls=node_cls)
    rng = random.Random(seed)
    sim.check_one_leader()
    for _ in range(10):
        cut = rng.sample(sim.node_ids, 3)
        for node_id in cut:
            sim.disconnect(node_id)
        sim.check_one_leader()
        for node_id in cut:
            sim.connect(node_id)
    sim.check_one_leader()
    return sim


# ------------------------------------------------------------------------------------------
# Part 2: log replication (6.824 2B) and persistence (2C)
# ------------------------------------------------------------------------------------------


def basic_agreement(seed: int, node_cls: NodeClass) -> Simulation:
    """Three commands proposed one by one are committed by all three servers, at 2, 3, 4.

    Index 1 holds the first leader's no-op (§8), so the commands follow it (6.824's
    TestBasicAgree, written for Raft without the no-op, expects 1, 2, 3).
    """
    sim = Simulation(seed, 3, node_cls=node_cls)
    for index in range(2, 5):
        count, _ = sim.n_committed(index)
        assert count == 0, f"index {index} committed before anything was proposed"
        got = sim.one(index * 100, 3)
        assert got == index, f"command {index * 100} landed at index {got}, not {index}"
    return sim


def agreement_despite_disconnected_follower(seed: int, node_cls: NodeClass) -> Simulation:
    """Two of three servers keep committing; the third catches up when it reconnects."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    ids = sim.node_ids
    sim.one(101, 3)
    leader = sim.check_one_leader()
    follower = ids[(ids.index(leader) + 1) % 3]
    sim.disconnect(follower)
    for command in (102, 103):
        sim.one(command, 2)
    sim.run_for(sim.election_timeout_ticks)
    for command in (104, 105):
        sim.one(command, 2)
    sim.connect(follower)
    sim.one(106, 3)
    sim.run_for(sim.election_timeout_ticks)
    sim.one(107, 3)
    return sim


def agreement_after_leader_crash(seed: int, node_cls: NodeClass) -> Simulation:
    """The leader crashes; the others go on; the restarted server catches up."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    sim.one(101, 3)
    leader = sim.check_one_leader()
    sim.crash(leader)
    sim.one(102, 2)
    sim.one(103, 2)
    sim.restart(leader)
    sim.one(104, 3)
    return sim


def no_agreement_without_majority(
    seed: int, node_cls: NodeClass, *, checkpoint: Checkpoint = _no_checkpoint
) -> Simulation:
    """A leader cut off from three of five followers cannot commit; the entry is later replaced.

    Checkpoint ``"reconnected"``: the three followers are back, nothing new proposed yet.
    """
    sim = Simulation(seed, 5, node_cls=node_cls)
    ids = sim.node_ids
    first = sim.one(10, 5)  # index 2, after the leader's no-op
    leader = sim.check_one_leader()
    position = ids.index(leader)
    for step in (1, 2, 3):
        sim.disconnect(ids[(position + step) % 5])
    result = sim.propose(leader, 20)
    index = first + 1
    assert isinstance(result, Proposed) and result.index == index, f"propose(20) gave {result}"
    sim.run_for(2 * sim.election_timeout_ticks)
    count, _ = sim.n_committed(index)
    assert count == 0, f"{count} servers committed index {index} without a majority (seed={seed})"
    for step in (1, 2, 3):
        sim.connect(ids[(position + step) % 5])
    checkpoint("reconnected", sim)
    sim.one(1000, 5)
    return sim


def stale_leader_entries_replaced(seed: int, node_cls: NodeClass) -> Simulation:
    """A partitioned leader's uncommitted entries are overwritten when it rejoins."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    sim.one(101, 3)
    leader1 = sim.check_one_leader()
    sim.disconnect(leader1)
    for command in (102, 103, 104):
        sim.propose(leader1, command)  # can never commit
    sim.one(103, 2)
    leader2 = sim.check_one_leader()
    sim.disconnect(leader2)
    sim.connect(leader1)
    sim.one(104, 2)
    sim.connect(leader2)
    sim.one(105, 3)
    return sim


def far_behind_followers_catch_up(
    seed: int, node_cls: NodeClass, *, checkpoint: Checkpoint = _no_checkpoint
) -> Simulation:
    """6.824's TestBackup2B: followers with 50 conflicting entries are brought back in line.

    Checkpoints ``"catch_up_begins"`` (just before the first leader, its follower and one
    server holding the 50 committed entries are reconnected) and ``"catch_up_done"`` (those
    three have committed 50 more, before everyone is reconnected).
    """
    sim = Simulation(seed, 5, node_cls=node_cls)
    rng = random.Random(seed)
    ids = sim.node_ids
    sim.one(rng.randrange(10**9), 5)
    leader1 = sim.check_one_leader()
    at = ids.index(leader1)
    for step in (2, 3, 4):
        sim.disconnect(ids[(at + step) % 5])
    for _ in range(50):  # a leader with only one follower: nothing commits
        sim.propose(leader1, rng.randrange(10**9))
    sim.run_for(sim.election_timeout_ticks // 2)
    sim.disconnect(leader1)
    sim.disconnect(ids[(at + 1) % 5])
    for step in (2, 3, 4):
        sim.connect(ids[(at + step) % 5])
    for _ in range(50):
        sim.one(rng.randrange(10**9), 3)
    leader2 = sim.check_one_leader()
    other = ids[(at + 2) % 5] if leader2 != ids[(at + 2) % 5] else ids[(at + 3) % 5]
    sim.disconnect(other)
    for _ in range(50):
        sim.propose(leader2, rng.randrange(10**9))
    sim.run_for(sim.election_timeout_ticks // 2)
    for node_id in ids:
        sim.disconnect(node_id)
    checkpoint("catch_up_begins", sim)
    for node_id in (leader1, ids[(at + 1) % 5], other):
        sim.connect(node_id)
    for _ in range(50):
        sim.one(rng.randrange(10**9), 3)
    checkpoint("catch_up_done", sim)
    for node_id in ids:
        sim.connect(node_id)
    sim.one(rng.randrange(10**9), 5)
    return sim


def whole_cluster_restarts(seed: int, node_cls: NodeClass) -> Simulation:
    """6.824's TestPersist12C: every server, then leaders, then a follower crash and restart."""
    sim = Simulation(seed, 3, node_cls=node_cls)
    ids = sim.node_ids
    sim.one(11, 3)
    for node_id in ids:
        sim.crash(node_id)
    for node_id in ids:
        sim.restart(node_id)
    sim.one(12, 3)
    leader1 = sim.check_one_leader()
    sim.restart(leader1)
    sim.one(13, 3)
    leader2 = sim.check_one_leader()
    sim.crash(leader2)
    # 6.824 waits for index 4 here; each new leader's no-op moves 14 further on.
    index14 = sim.one(14, 2)
    sim.restart(leader2)
    sim.wait(index14, 3)
    leader3 = sim.check_one_leader()
    victim = ids[(ids.index(leader3) + 1) % 3]
    sim.crash(victim)
    sim.one(15, 2)
    sim.restart(victim)
    sim.one(16, 3)
    return sim


def repeated_majority_crashes(seed: int, node_cls: NodeClass, *, rounds: int = 3) -> Simulation:
    """6.824's TestPersist22C: again and again, a majority crashes and comes back from disk."""
    sim = Simulation(seed, 5, node_cls=node_cls)
    ids = sim.node_ids
    index = 1
    for _ in range(rounds):
        sim.one(10 + index, 5)
        index += 1
        at = ids.index(sim.check_one_leader())
        sim.crash(ids[(at + 1) % 5])
        sim.crash(ids[(at + 2) % 5])
        sim.one(10 + index, 3)
        index += 1
        for step in (0, 3, 4):
            sim.crash(ids[(at + step) % 5])
        sim.restart(ids[(at + 1) % 5])
        sim.restart(ids[(at + 2) % 5])
        sim.run_for(sim.election_timeout_ticks)
        sim.restart(ids[(at + 3) % 5])
        sim.one(10 + index, 3)
        index += 1
        sim.restart(ids[(at + 4) % 5])
        sim.restart(ids[at])
    sim.one(1000, 5)
    return sim


def figure8(seed: int, node_cls: NodeClass, *, iterations: int, unreliable: bool) -> Simulation:
    """6.824's Figure 8 tests: leaders come and go after very short reigns.

    Reliable: the leader crashes (losing its volatile state) after each round.
    Unreliable: the leader is disconnected instead, with losses and late messages.
    """
    sim = Simulation(seed, 5, node_cls=node_cls)
    sim.set_unreliable(unreliable)
    rng = random.Random(seed)
    sim.one(rng.randrange(10**6), 1)
    ids = sim.node_ids
    for _ in range(iterations):
        leader = None
        for node_id in ids:
            if sim.connected(node_id) and isinstance(
                sim.propose(node_id, rng.randrange(10**6)), Proposed
            ):
                leader = node_id
        if rng.random() < 0.1:
            sim.run_for(rng.randint(0, sim.election_timeout_ticks // 2))
        else:
            sim.run_for(rng.randint(0, 2))
        if leader is not None and (not unreliable or rng.random() < 0.5):
            if unreliable:
                sim.disconnect(leader)
            else:
                sim.crash(leader)
        up = [node_id for node_id in ids if sim.connected(node_id)]
        if len(up) < 3:
            down = rng.choice([node_id for node_id in ids if node_id not in up])
            if unreliable:
                sim.connect(down)
            else:
                sim.restart(down)
    sim.set_unreliable(False)
    for node_id in ids:
        if not sim.alive(node_id):
            sim.restart(node_id)
        sim.connect(node_id)
    sim.one(rng.randrange(10**6), 5)
    return sim


def unreliable_agreement(seed: int, node_cls: NodeClass, *, rounds: int = 14) -> Simulation:
    """Commands still commit when the network drops, duplicates and delays messages.

    Each round proposes four commands, each of which must commit on at least one server.
    """
    sim = Simulation(seed, 5, node_cls=node_cls)
    sim.set_unreliable(True)
    for iteration in range(1, rounds + 1):
        for j in range(4):
            sim.one(100 * iteration + j, 1)
    sim.set_unreliable(False)
    sim.one(100, 5)
    return sim


def figure8_paper(seed: int, node_cls: NodeClass) -> Simulation:
    """The paper's Figure 8, scripted on five servers with partitions and crashes.

    (a) S1 leads and copies X only to S2. (b) S5 wins a later term with votes from
    S3 and S4 and takes Y at the same index, copying it nowhere. (c) S1 or S2 leads
    again and copies X to a majority: X is from an old term, so it must not count
    as committed. (d) That leader crashes; S5 wins (its last term is newer) and
    overwrites X with Y everywhere. A server that applied X breaks State Machine
    Safety, which the simulator reports.

    It runs without the new leaders' no-op, as the paper draws it: with one, the leader
    of (c) would copy its own term's no-op along with X, X would commit rightly, and S5
    could never win (d), so a rule broken in counting would go unseen.
    """
    sim = Simulation(seed, 5, node_cls=node_cls, config=RaftConfig(noop_on_election=False))
    ids = list(sim.node_ids)
    sim.one("base", 5)
    s1 = sim.check_one_leader()
    rest = [n for n in ids if n != s1]
    s2, group = rest[0], rest[1:]
    # (a)
    sim.partition([s1, s2], group)
    assert isinstance(sim.propose(s1, "X"), Proposed), "the leader refused X"
    sim.run_for(3)
    assert sim.nodes[s2].log.last_index == 2, "X did not reach S2 within 3 ticks"

    # (b) the majority side elects S5, which takes Y and is cut off at once
    def group_leader() -> str | None:
        return next((n for n in group if sim.nodes[n].role.value == "leader"), None)

    if not sim.run_until(lambda: group_leader() is not None, 40 * sim.election_timeout_ticks):
        sim.fail("the three-server side never elected a leader")
    s5 = group_leader()
    assert s5 is not None
    assert isinstance(sim.propose(s5, "Y"), Proposed), "the new leader refused Y"
    sim.heal()
    sim.disconnect(s5)

    # (c) only S1 or S2 (holding X) can win now; they copy X to S3/S4
    def x_holders() -> list[str]:
        x_term = sim.nodes[s1].log.term_at(2)
        return [n for n in ids if n != s5 and sim.nodes[n].log.term_at(2) == x_term]

    def new_leader() -> str | None:
        for n in (s1, s2):
            node = sim.nodes[n]
            if node.role.value == "leader" and node.current_term > sim.nodes[s5].current_term:
                return n
        return None

    if not sim.run_until(
        lambda: new_leader() is not None and len(x_holders()) >= 3,
        40 * sim.election_timeout_ticks,
    ):
        sim.fail("S1 or S2 never led again with X on a majority")
    sim.run_for(3 * sim.config.heartbeat_interval_ticks)

    # (d) S1 and S2 crash; S5 returns and is the only possible winner
    sim.crash(s1)
    sim.crash(s2)
    sim.connect(s5)
    sim.one("Z", 3)
    sim.restart(s1)
    sim.restart(s2)
    sim.one("end", 5)
    return sim


def random_fault_schedule(seed: int, node_cls: NodeClass) -> None:
    """300 ticks of seeded crashes, restarts, partitions and losses; then progress again."""
    run_random_schedule(seed, nodes=5, ticks=300, snapshot_interval=None, node_cls=node_cls)
