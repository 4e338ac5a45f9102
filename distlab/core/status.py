"""Reading a cluster's status: each node's role *with its term*, and which leader is stale.

What it is: pure functions over the ``fields`` a node reports (``role``, and ``term`` --
or ``current_term`` as the Raft core calls it) and `StatusMap`, the mapping both drivers'
``status()`` return: a plain dict of node views whose printed form is a table, one line per
node. A node that says "leader" is only the leader *of its term*: right after a partition
heals, the old leader still says "leader" until it hears of the newer term. So a leader
whose term is below the highest term any running node reports is marked **stale**:
``leader (term 1, stale)`` beside ``leader (term 2)``.
What it must never do: ask a node anything, or know a particular protocol beyond the field
names above (a program without them is shown by its fields).
Where it fits: `distlab.sim.World.status` and `distlab.cluster.Cluster.status` return a
`StatusMap`; `distlab.widgets.ClusterPanel` labels its cards with `role_label`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "StatusMap",
    "highest_term",
    "is_stale_leader",
    "node_term",
    "role_label",
    "status_table",
    "term_label",
]

_RUNNING = ("up", "paused", "unresponsive")


def node_term(fields: Mapping[str, Any]) -> int | None:
    """The node's current term: ``term`` (real nodes) or ``current_term`` (the Raft core)."""
    term = fields.get("term", fields.get("current_term"))
    return term if isinstance(term, int) and not isinstance(term, bool) else None


def highest_term(statuses: Mapping[str, Any]) -> int | None:
    """The highest term reported by a running node (None when no node reports one)."""
    terms = [
        node_term(status.fields)
        for status in statuses.values()
        if status.state in _RUNNING and status.fields
    ]
    known = [term for term in terms if term is not None]
    return max(known) if known else None


def is_stale_leader(fields: Mapping[str, Any], highest: int | None) -> bool:
    """A node that still says "leader" in a term older than one another node has seen."""
    term = node_term(fields)
    return (
        fields.get("role") == "leader"
        and term is not None
        and highest is not None
        and term < highest
    )


def term_label(fields: Mapping[str, Any], highest: int | None = None) -> str:
    """``term 3``, or ``term 1, stale`` for a stale leader; "" when the node reports no term."""
    term = node_term(fields)
    if term is None:
        return ""
    return f"term {term}, stale" if is_stale_leader(fields, highest) else f"term {term}"


def role_label(fields: Mapping[str, Any], highest: int | None = None) -> str:
    """``leader (term 3)``, ``leader (term 1, stale)``, ``follower (term 3)``; "" without a role."""
    role = fields.get("role")
    if not role:
        return ""
    term = term_label(fields, highest)
    return f"{role} ({term})" if term else str(role)


def _raft_columns(fields: Mapping[str, Any]) -> list[str]:
    """Who the node follows and how far its log got, under either driver's field names."""
    columns = []
    leader = fields.get("leader", fields.get("leader_id"))
    if fields.get("role") != "leader":
        columns.append(f"leader {leader if leader is not None else '-'}")
    last_index = fields.get("last_log_index", fields.get("log_length"))
    for label, value in (
        ("log", last_index),
        ("commit", fields.get("commit_index")),
        ("applied", fields.get("last_applied")),
        ("snapshot", fields.get("snapshot_index")),
    ):
        if value is not None:
            columns.append(f"{label} {value}")
    return columns


def status_table(statuses: Mapping[str, Any]) -> str:
    """One line per node: name, state, role with term (stale leaders marked), then either
    Raft's progress (leader, log, commit, applied, snapshot) or the program's own fields."""
    highest = highest_term(statuses)
    lines = []
    for name, status in statuses.items():
        fields = status.fields if status.state in _RUNNING else {}
        role = role_label(fields, highest)
        if role and node_term(fields) is not None:
            rest = _raft_columns(fields)
        else:
            rest = [f"{str(k).replace('_', ' ')} {v}" for k, v in fields.items() if k != "role"]
        line = f"{name:<4} {status.state:<9}"
        if role:
            line += f" {role:<24}"
        lines.append((line + " " + "  ".join(rest)).rstrip())
    return "\n".join(lines)


class StatusMap(dict):
    """``{node name: node view}`` as ``status()`` returns it -- a plain dict -- printed (and
    shown by IPython) as `status_table`, so each node's term and any stale leader are
    visible at a glance. ``repr`` stays a dict's."""

    def __str__(self) -> str:
        return status_table(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # IPython's display hook
        printer.text("StatusMap(...)" if cycle else status_table(self))

    @property
    def stale_leaders(self) -> list[str]:
        """Running nodes that still call themselves leader of an older term."""
        highest = highest_term(self)
        return [
            name
            for name, status in self.items()
            if status.state in _RUNNING and is_stale_leader(status.fields, highest)
        ]
