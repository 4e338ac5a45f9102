"""Assignment 6: a linearizable key/value service on Raft, checked in the simulator.

What it is: the learner subclasses `distlab.sim.KVServer` and writes the
server half of 6.824 lab 3A: ``setup()`` (the table, the duplicate table, the
requests waiting for their index), ``handle_request(request_id, command)``
(propose the command to Raft; refuse at once if this node is not the leader)
and ``apply(index, command)`` (apply each committed command once per client
``seq``, then answer the request that waits on that index, or tell it "wrong
leader" if another command took that index). The blank entry each new Raft leader
appends (`distlab.raft.NOOP`) is not handed to ``apply``, so indices can skip; a
request whose index a no-op took gets no answer from the server, and its clerk
retries after a timeout. `check_kv_raft(server_cls)` runs
seeded workloads of three clerks (`run_kv_workload`) under a nemesis of
crashes, partitions and an unreliable network, and returns a `Verdict`: for
every seed the history must be linearizable (`distlab.check.check_linearizable`),
and every acknowledged append must be in the final value exactly once.

What it must never do: use the wall clock or unseeded randomness: the verdict
is the same on every machine. The checker's time budget is generous (10 s per
history); "unknown" counts as a failure, never as a pass.
Where it fits: notebooks/assignments/source/06_kv_raft.ipynb; the library's own
replicated KV (chapter 10) runs the same `KVStateMachine` rules in real processes.
"""

from __future__ import annotations

import itertools
import random
import re
from collections import Counter

from distlab.assignments.verdict import Verdict, call_text, replaying, run_checks
from distlab.check import History, check_linearizable
from distlab.sim.kv_sim import (
    CLERK_TIMEOUT_TICKS,
    Clerk,
    KVRaftSimulation,
    KVServer,
    WorkloadResult,
    run_kv_workload,
)

__all__ = ["SEEDS", "check_kv_raft"]

SEEDS = (1, 2, 3, 4, 5)
_TOKEN = re.compile(r"\[c\d+\.\d+\]")


def _judge(result: WorkloadResult, *, min_completed: int) -> None:
    verdict = check_linearizable(result.history, timeout_s=10.0)
    if verdict.verdict == "violation":
        explanation = verdict.explanation.strip().splitlines()
        raise AssertionError("not linearizable" + (f" ({explanation[0]})" if explanation else ""))
    if verdict.verdict != "ok":
        raise AssertionError("the checker could not decide in 10 s")
    for key, value in result.final_values.items():
        counts = Counter(_TOKEN.findall(value))
        doubled = [token for token, count in counts.items() if count > 1]
        assert not doubled, f"{doubled[0]} was applied twice to {key!r}"
        lost = [
            command
            for command in result.acknowledged
            if command.op == "append" and command.key == key and command.value not in counts
        ]
        assert not lost, f"acknowledged append {lost[0].value} is missing from {key!r}"
    assert result.completed >= min_completed, (
        f"only {result.completed} operations completed "
        f"(expected at least {min_completed}): the service makes too little progress"
    )


def _finish(sim: KVRaftSimulation, clerk: Clerk, what: str) -> str:
    """Step until ``clerk``'s operation is answered; its answer."""
    for _ in range(50 * CLERK_TIMEOUT_TICKS):
        if not clerk.busy:
            return clerk.results[-1][1]
        clerk.step()
        sim.run_for(1)
    raise AssertionError(f"{what} was never answered")


def _basics(server_cls: type[KVServer]) -> None:
    sim = KVRaftSimulation(1, 3, server_cls)
    clerk = Clerk(sim, "c0", History(clock=lambda: sim.now), random.Random(1))
    steps = [("put", "x", "a", ""), ("append", "x", "b", ""), ("get", "x", "", "ab"),
             ("get", "nothing", "", "")]  # fmt: skip
    for op, key, value, answer in steps:
        clerk.start(op, key, value)
        got = _finish(sim, clerk, f"{op}({key!r})")
        assert got == answer, f"{op}({key!r}) answered {got!r}, expected {answer!r}"


def _cut_off_leader_read(server_cls: type[KVServer]) -> None:
    """The scripted stale read: a leader cut off by a partition still believes it leads;
    the majority elects another and takes a new write; a read sent to the old leader must
    not be answered from its own table (it must go through the log, where it cannot commit)."""
    sim = KVRaftSimulation(2, 3, server_cls)
    events = itertools.count()  # strictly increasing: a read that starts after a write
    history = History(clock=lambda: next(events))  # completed, even in the same tick, is after it
    writer = Clerk(sim, "writer", history, random.Random(2))
    writer.start("put", "x", "before")
    _finish(sim, writer, "the first put")
    leader = next(
        n for n in sim.node_ids if (node := sim.nodes[n]) is not None and node.role == "leader"
    )
    sim.partition([leader], [n for n in sim.node_ids if n != leader])
    writer.leader_hint = (sim.node_ids.index(leader) + 1) % len(sim.node_ids)
    writer.start("put", "x", "after")
    _finish(sim, writer, "the put on the majority side")
    reader = Clerk(sim, "reader", history, random.Random(3))
    reader.leader_hint = sim.node_ids.index(leader)  # ask the old leader first
    reader.start("get", "x")
    _finish(sim, reader, "the read")
    result = check_linearizable(history, timeout_s=10)
    assert result.verdict == "ok", (
        f"not linearizable: a read sent to the old leader {leader}, cut off by a partition, "
        f"answered {reader.results[-1][1]!r} after 'after' was written on the majority side "
        "(read through the log, or check that you still lead)"
    )


def _seeded(server_cls: type[KVServer], *, min_completed: int, **nemesis: object):
    def run() -> None:
        for seed in SEEDS:

            def one(seed: int = seed) -> None:
                result = run_kv_workload(server_cls, seed, **nemesis)  # type: ignore[arg-type]
                _judge(result, min_completed=min_completed)

            # run_kv_workload returns the run (its history, final values) to look at.
            replaying(call_text("run_kv_workload", server_cls, seed, **nemesis), one)

    return run


def check_kv_raft(server_cls: type[KVServer]) -> Verdict:
    """Run assignment 6's checks (seeds 1 to 5) against ``server_cls``."""
    return run_checks(
        "Assignment 6: a linearizable KV service on Raft (seeds 1-5, 3 clerks, 5 servers)",
        [
            ("one clerk: put, append, get answer correctly", lambda: _basics(server_cls)),
            (
                "a leader cut off by a partition answers no stale read",
                lambda: _cut_off_leader_read(server_cls),
            ),
            (
                "no faults: linearizable, no write lost",
                _seeded(server_cls, min_completed=100),
            ),
            (
                "servers crash and restart: linearizable, no write lost",
                _seeded(server_cls, min_completed=40, fault_every_ticks=40, crashes=True),
            ),
            (
                "partitions cut old leaders off: linearizable, no write lost",
                _seeded(server_cls, min_completed=40, fault_every_ticks=40, partitions=True),
            ),
            (
                "crashes, partitions and an unreliable network together",
                _seeded(
                    server_cls,
                    min_completed=20,
                    fault_every_ticks=30,
                    crashes=True,
                    partitions=True,
                    unreliable=True,
                ),
            ),
        ],
    )
