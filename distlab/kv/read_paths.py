"""Ways for the strong store to answer a get: what each costs, and what each trusts.

A get changes nothing, yet it must not return a value older than a write that completed
before it began (linearizability). Raft offers three ways to make sure (the Raft thesis
§6.4), and the strong store runs each (``Clerk(reads=...)``, ``lease_reads=True``), plus a
way to take ReadIndex's work off the leader:

- ``"log"``: the get is a log entry like a write. When it applies, every earlier write has
  applied too. Trusts nothing beyond the log; costs a majority's disk write per read.
- ``"read_index"`` (the default): the leader notes its commit index, sends one round of
  heartbeats, and answers from its table once a majority of its term answered and it has
  applied that far. Trusts that a majority's answer proves no newer leader exists; costs a
  round trip, no disk write.
- ``"lease"``: every heartbeat a majority answers gives the leader a lease of a little less
  than the smallest election timeout, during which followers refuse to elect anyone else;
  reads inside it are answered at once. Trusts that every node's clock runs at one rate --
  a paused leader wakes up with a lease that already ran out elsewhere.
- ``"follower"``: ReadIndex answered by any node. A follower asks the leader for the read
  index, the leader confirms with its usual round, and the follower answers from its own
  table once it has applied that far. Trusts what ReadIndex trusts; costs the follower's
  round trip to the leader on top, but the leader no longer queries its table for the read.

`measure_read_paths` times the four on real clusters (the follower path's gets go to a
follower); `read_after_a_pause` runs the
experiment that separates them in the simulator (deterministic, checked by its "Reads See
Completed Writes" rule).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

from distlab.cluster import Cluster
from distlab.kv.clerk import Clerk
from distlab.raft import Proposed, RaftConfig
from distlab.replicated.replies import Applied, decode_reply
from distlab.rpc import Client
from distlab.sim.failures import SafetyViolation
from distlab.sim.simulation import SimRead, Simulation

__all__ = [
    "READ_PATHS",
    "TRUSTS",
    "PauseOutcome",
    "ReadPathTiming",
    "measure_read_paths",
    "read_after_a_pause",
]

READ_PATHS = ("log", "read_index", "lease", "follower")

TRUSTS = {
    "log": "nothing but the log: a majority stores each read",
    "read_index": "a majority answering this term's heartbeat: no newer leader exists",
    "lease": "clocks: every node's ticks run at one rate (a pause breaks it)",
    "follower": "what read_index trusts; the leader confirms, a follower answers",
}


@dataclass(frozen=True)
class ReadPathTiming:
    """Sequential gets from one client on one real 3-node cluster."""

    path: str
    gets: int
    p50_ms: float
    p99_ms: float
    log_entries_per_get: float

    def __str__(self) -> str:
        return (
            f"{self.path:<11} p50 {self.p50_ms:6.2f} ms   p99 {self.p99_ms:6.2f} ms   "
            f"log entries per get {self.log_entries_per_get:.2f}   trusts: {TRUSTS[self.path]}"
        )


def measure_read_paths(gets: int = 200, seed: int = 0) -> list[ReadPathTiming]:
    """Start a strong 3-node cluster per read path and time ``gets`` sequential gets of one
    key from one client; also count the log entries the gets added on the leader. The
    follower path's gets all go to one follower."""
    timings = []
    for path in READ_PATHS:
        options: dict[str, Any] = {"lease_reads": True} if path == "lease" else {}
        reads = path if path in ("log", "follower") else "read_index"
        with Cluster.start(3, service="kv", consistency="strong", seed=seed, **options) as c:
            clerk = Clerk.for_cluster(c, client_id=f"reader-{path}", reads=reads)
            clerk.put("x", "1")
            clerk.get("x")  # finds the leader before the clock starts
            leader = _leader(c)
            before = c.status()[leader].fields["log_length"]
            latencies = []
            if path == "follower":
                follower = next(name for name in c.names if name != leader)
                with Client(c.address(follower), name="reader", secret=c.secret) as reader:
                    for _ in range(gets):
                        began = time.perf_counter()
                        _follower_get(reader, "x")
                        latencies.append((time.perf_counter() - began) * 1000)
            else:
                for _ in range(gets):
                    began = time.perf_counter()
                    clerk.get("x")
                    latencies.append((time.perf_counter() - began) * 1000)
            added = c.status()[leader].fields["log_length"] - before
            clerk.close()
        latencies.sort()
        timings.append(
            ReadPathTiming(
                path,
                gets,
                round(statistics.median(latencies), 3),
                round(latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 3),
                added / gets,
            )
        )
    return timings


def _follower_get(reader: Client, key: str) -> None:
    """One follower read at the node ``reader`` talks to (the Clerk would pick a node at
    random; timing one follower shows the path's own cost)."""
    reply = decode_reply(reader.call("Replicated.read", key, 2.0, True, timeout=5.0))
    if not isinstance(reply, Applied):
        raise RuntimeError(f"a follower read was not answered: {reply}")


def _leader(cluster: Cluster) -> str:
    for name, status in cluster.status().items():
        if status.fields.get("role") == "leader":
            return name
    raise RuntimeError("no leader after a successful get")


@dataclass(frozen=True)
class PauseOutcome:
    """What a read at a paused-and-woken old leader did (see `read_after_a_pause`)."""

    path: str
    answered: bool
    stale: bool
    caught_by: str | None  # the simulator's rule that flagged the answer, if any

    def __str__(self) -> str:
        if self.stale:
            return f"{self.path:<11} answered a STALE value (caught: {self.caught_by})"
        if self.answered:
            return f"{self.path:<11} answered the latest value"
        return f"{self.path:<11} did not answer (it cannot reach a majority): safe"


def read_after_a_pause(path: str, seed: int = 4) -> PauseOutcome:
    """Cut the leader off and freeze it (its clock stops); let the others elect a leader and
    commit a write; wake the old leader and read there at once -- in the seeded simulator,
    whose "Reads See Completed Writes" rule checks every answered read."""
    if path not in READ_PATHS:
        raise ValueError(f"path must be one of {READ_PATHS}, got {path!r}")
    sim = Simulation(seed=seed, config=RaftConfig(lease_reads=path == "lease"))
    old = sim.check_one_leader()
    sim.one("before", 3)
    sim.isolate(old)
    sim.pause(old)
    sim.check_one_leader()
    after = sim.one("after", 2)
    sim.resume(old)
    try:
        if path == "log":
            proposed = sim.propose(old, "get x")
            sim.run_for(sim.election_timeout_ticks)
            applied = isinstance(proposed, Proposed) and sim.services[old].applied_index >= (
                proposed.index
            )
            return PauseOutcome(path, answered=applied, stale=False, caught_by=None)
        # (The old leader still believes it leads, so a follower read there is a ReadIndex.)
        request = sim.read(old, follower_ok=path == "follower")
        sim.run_for(sim.election_timeout_ticks)
    except SafetyViolation as violation:
        return PauseOutcome(path, answered=True, stale=True, caught_by=violation.property_name)
    answer = sim.reads.get(request) if isinstance(request, int) else None
    answered = isinstance(answer, SimRead)
    stale = answered and answer.index < after  # type: ignore[union-attr]
    return PauseOutcome(path, answered=answered, stale=stale, caught_by=None)
