"""Experiments on a real Raft cluster for chapter 08: what a leader crash costs.

What it is: `measure_failover` kills the leader with SIGKILL and times how long it takes
until a *new* leader has committed and applied a write -- the outage a client sees: the
followers' election timeout, one election, one round of replication.
What it must never do: print, or report a figure it did not measure (a write that never
commits gives ``seconds=None``, not a guess).
Where it fits: beside :mod:`~distlab.replicated.observe` (which only watches);
``benchmarks/raft_bench.py`` repeats the same measurement many times.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from distlab.replicated.client import RaftClient
from distlab.replicated.replies import Reply

__all__ = ["Failover", "measure_failover"]


@dataclass(frozen=True)
class Failover:
    """One leader crash: who led, who took over, and how long a write was unavailable."""

    old_leader: str
    new_leader: str | None  # the node that answered the write; None if it never committed
    seconds: float | None  # crash -> the write applied on the new leader; None if it never was
    answer: Reply  # the write's final reply (`Applied` when ``ok``)

    @property
    def ok(self) -> bool:
        """Did a new leader commit the write?"""
        return bool(self.answer.ok) and self.new_leader not in (None, self.old_leader)

    def __str__(self) -> str:
        if self.seconds is None:
            return f"{self.old_leader} crashed; no write committed afterwards ({self.answer})"
        return (
            f"{self.old_leader} crashed; {self.new_leader} took over and committed a write "
            f"{self.seconds:.2f} s later"
        )


def measure_failover(
    cluster: Any,
    leader: str,
    client: RaftClient,
    command: Any,
    *,
    timeout_s: float = 30.0,
    attempt_timeout_s: float = 0.5,
) -> Failover:
    """SIGKILL ``leader``, then submit ``command`` through ``client`` until it is applied.

    The clock starts just before the kill and stops when a surviving node answers that the
    command is applied. ``client`` retries the definite refusals it meets meanwhile (the
    dead node refuses connections; a follower without a leader answers not-leader).
    """
    if leader not in cluster.names:
        raise ValueError(f"no node named {leader!r}; nodes are {list(cluster.names)}")
    started = time.monotonic()
    cluster.crash(leader)
    answer = client.submit(command, timeout_s=timeout_s, attempt_timeout_s=attempt_timeout_s)
    elapsed = time.monotonic() - started
    if not answer.ok:
        return Failover(leader, None, None, answer)
    return Failover(leader, client.leader, elapsed, answer)
