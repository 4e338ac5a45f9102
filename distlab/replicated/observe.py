"""Watching a real Raft cluster from outside: who leads, what each node applied, waiting for both.

What it is: small read-only helpers over ``Cluster.status()`` and ``Replicated.query`` --
`one_leader`, `wait_for_one_leader`, `applied`, `wait_until_applied`, `status_lines` -- for
tests, notebooks and benchmarks. Every wait polls with a deadline and returns a value
(None or False on timeout) instead of hanging.
What it must never do: change the cluster. It uses the controller's name for its calls, which
the fault policy exempts, so a partition never hides a node from the observer.
Where it fits: beside :class:`~distlab.replicated.client.RaftClient`, which *writes*.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from distlab.rpc import CONTROLLER

__all__ = ["applied", "one_leader", "status_lines", "wait_for_one_leader", "wait_until_applied"]

_OBSERVER = CONTROLLER  # exempt from partitions, so a partition never hides a node from us


def one_leader(cluster: Any, among: Sequence[str] | None = None) -> str | None:
    """The leader, if exactly one live node of ``among`` leads and the others follow it."""
    statuses = {
        name: status
        for name, status in cluster.status().items()
        if status.alive and (among is None or name in among)
    }
    leaders = [name for name, s in statuses.items() if s.fields.get("role") == "leader"]
    if len(leaders) != 1:
        return None
    leader = leaders[0]
    if all(s.fields.get("leader") == leader for s in statuses.values()):
        return leader
    return None


def wait_for_one_leader(
    cluster: Any, among: Sequence[str] | None = None, timeout_s: float = 30.0
) -> str | None:
    """Poll until `one_leader` finds one (returns it) or ``timeout_s`` seconds pass (None)."""
    deadline = time.monotonic() + timeout_s
    while True:
        leader = one_leader(cluster, among)
        if leader is not None or time.monotonic() > deadline:
            return leader
        time.sleep(0.05)


def applied(cluster: Any, name: str) -> list[Any]:
    """The commands node ``name`` has applied (its service's ``query()``)."""
    client = cluster.client(name, client_name=_OBSERVER)
    try:
        return client.call("Replicated.query", timeout=5.0)
    finally:
        client.close()


def wait_until_applied(
    cluster: Any, expected: list[Any], names: Sequence[str] | None = None, timeout_s: float = 30.0
) -> bool:
    """Poll until every node in ``names`` (default: all) has applied exactly ``expected``."""
    names = list(names if names is not None else cluster.names)
    deadline = time.monotonic() + timeout_s
    while True:
        if all(applied(cluster, name) == expected for name in names):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def status_lines(cluster: Any) -> str:
    """One line per node: state, role, term, log length, commit index."""
    lines = []
    for name, status in cluster.status().items():
        f = status.fields
        if not status.alive:
            lines.append(f"{name}: {status.state}")
            continue
        lines.append(
            f"{name}: {f.get('role', '?'):9} term {f.get('term')}  log {f.get('log_length')}  "
            f"commit {f.get('commit_index')}  applied {f.get('last_applied')}  "
            f"leader {f.get('leader')}"
        )
    return "\n".join(lines)
