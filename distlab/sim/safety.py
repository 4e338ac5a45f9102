"""Raft's safety properties (Figure 3), checked incrementally after every simulator event.

What it is: `SafetyChecker`, fed by the simulator with what each event changed
(a node's role and commit index, the log entries it persisted, the commands its
service applied). It keeps a global record and raises `SafetyViolation` the
moment a property breaks:

- **Election Safety**: at most one leader per term.
- **Log Matching**: two logs holding an entry with the same index and term hold
  the same command there and agree on the term before it (by induction, the
  same prefix).
- **Leader Completeness**: a leader elected in term T holds every entry committed
  in a term before T.
- **State Machine Safety**: no two services apply different commands at one
  index (checked through a running digest, so snapshots are covered too); and
  each service sees the apply channel in order, exactly once.

What it must never do: change the simulation; it only observes.
Where it fits: owned by `distlab.sim.simulation.Simulation`. Each check costs
O(what changed), so thousands of schedules stay cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from distlab.raft.core import RaftNode, Role
from distlab.raft.messages import LogEntry, NodeId
from distlab.sim.failures import SafetyViolation, SimulationFailure

__all__ = ["SafetyChecker", "SafetyViolation", "SimulationFailure"]

# ``Role.LEADER`` is a slow lookup on Python 3.11 (its Enum metaclass hooks attribute
# access); `after_event` runs after every event, so it compares with this alias.
_LEADER = Role.LEADER


class SafetyChecker:
    """Global record of leaders, log entries, commits and applied commands."""

    def __init__(self, context: Callable[[], str] = lambda: "") -> None:
        self._context = context
        self.leader_of_term: dict[int, NodeId] = {}
        self._entry_record: dict[tuple[int, int], tuple[Any, int]] = {}
        # Committed entries, by index (position 0 unused): their term, and the term of
        # the leader that first committed them.
        self._committed_entry_term: list[int] = [0]
        self._committed_in_term: list[int] = [0]
        # What the services applied, by index: (command, digest of the prefix).
        self._applied: dict[int, tuple[Any, int]] = {}
        self.checks = 0

    def fail(self, property_name: str, detail: str) -> None:
        """Raise a SafetyViolation naming the property, the detail and the replay context."""
        raise SafetyViolation(property_name, f"{property_name} violated: {detail}{self._context()}")

    # -- after every event ----------------------------------------------------------------

    def after_event(self, node: RaftNode) -> None:
        """Check what one event on ``node`` may have changed: leadership and commitment."""
        self.checks += 1
        if node.role is not _LEADER:
            return
        term = node.current_term
        known = self.leader_of_term.get(term)
        if known is None:
            self.leader_of_term[term] = node.node_id
            self._check_leader_completeness(node)
        elif known != node.node_id:
            self.fail(
                "Election Safety", f"{known} and {node.node_id} are both leaders of term {term}"
            )
        if node.commit_index >= len(self._committed_entry_term):
            self._record_commits(node)

    def _record_commits(self, leader: RaftNode) -> None:
        for index in range(len(self._committed_entry_term), leader.commit_index + 1):
            entry_term = leader.log.term_at(index)
            if entry_term is None:  # compacted: another leader's commit recorded it already
                return
            self._committed_entry_term.append(entry_term)
            self._committed_in_term.append(leader.current_term)

    def _check_leader_completeness(self, leader: RaftNode) -> None:
        term = leader.current_term
        log = leader.log
        for index in range(log.snapshot_index + 1, len(self._committed_entry_term)):
            if self._committed_in_term[index] >= term:
                continue  # committed after this election began: not required of this leader
            expected = self._committed_entry_term[index]
            actual = log.term_at(index)
            if actual != expected:
                self.fail(
                    "Leader Completeness",
                    f"{leader.node_id} became leader of term {term} but holds "
                    f"{'no entry' if actual is None else f'an entry of term {actual}'} at "
                    f"index {index}, where an entry of term {expected} was committed in term "
                    f"{self._committed_in_term[index]}",
                )

    # -- when a node persists log entries ------------------------------------------------

    def on_entries(self, node_id: NodeId, entries: list[LogEntry], prev_term: int | None) -> None:
        """Log Matching, checked on every entry a node writes to its log."""
        for entry in entries:
            key = (entry.index, entry.term)
            seen = self._entry_record.get(key)
            if seen is None:
                self._entry_record[key] = (
                    entry.command,
                    prev_term if prev_term is not None else -1,
                )
            else:
                command, seen_prev = seen
                if command != entry.command or (
                    prev_term is not None and seen_prev not in (-1, prev_term)
                ):
                    self.fail(
                        "Log Matching",
                        f"{node_id} holds index {entry.index} term {entry.term} with command "
                        f"{entry.command!r} after term {prev_term}, but another log has "
                        f"{command!r} after term {seen_prev}",
                    )
            prev_term = entry.term

    # -- when a service applies ----------------------------------------------------------

    def on_applied(self, node_id: NodeId, index: int, command: Any, digest: int) -> None:
        """State Machine Safety: the command (and the state it produces) at ``index`` is unique."""
        seen = self._applied.get(index)
        if seen is None:
            self._applied[index] = (command, digest)
        elif seen[1] != digest:
            self.fail(
                "State Machine Safety",
                f"{node_id} applied {command!r} at index {index}, but another server applied "
                f"{seen[0]!r} there (or a different prefix before it)",
            )

    def on_snapshot_applied(self, node_id: NodeId, index: int, digest: int) -> None:
        """A snapshot's state must equal the state every server had after applying ``index``."""
        seen = self._applied.get(index)
        if seen is not None and seen[1] != digest:
            self.fail(
                "State Machine Safety",
                f"{node_id} installed a snapshot at index {index} whose state differs from "
                "what the servers applied up to that index",
            )

    def command_at(self, index: int) -> Any:
        """The command applied at ``index`` by any service, or None if none applied it yet."""
        seen = self._applied.get(index)
        return None if seen is None else seen[0]

    def apply_order_failure(self, node_id: NodeId, expected: int, got: int) -> None:
        """Report an apply channel that skipped or repeated an index."""
        self.fail(
            "Apply Order",
            f"{node_id}'s service expected index {expected} next on the apply channel, got {got}",
        )
