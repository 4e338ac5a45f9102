"""Assignment 5 (Raft, part 2): log replication and persistence, checked in the simulator.

What it is: `ReplicationRaft`, a `RaftNode` (with the library's election) whose
log replication is left to the learner (6.824 labs 2B and 2C), and
`check_replication(node_cls)`, which runs seeded scenarios from
`distlab.sim.scenarios` (agreement, failures, restarts from disk,
Figure 8) and returns a `Verdict`. The learner writes:

- ``handle_append_entries(sender, request)``: the follower's side of §5.3:
  refuse a stale leader, check that the logs match at ``prev_log_index``, delete a
  conflicting suffix, append the new entries, advance ``commit_index`` and reply;
- ``handle_append_entries_reply(sender, reply)``: the leader's side: on success
  move ``match_index``/``next_index`` forward and try to commit; on failure move
  ``next_index`` back (the reply's ``conflict_index``/``conflict_term`` let it skip
  a whole term at once) and send again;
- ``advance_commit_index()``: commit the highest index stored on a majority, but
  only if that entry is from the current term (§5.4.2, Figure 8).

Persistence: whenever the learner changes the log it must call
``log_changed(first_changed_index)``; the driver then writes the log from there
to disk before any message queued now leaves. Forgetting it loses entries at
the next crash, which the restart scenarios notice.

The three methods are `RaftNode`'s documented hooks, so the learner's versions
simply replace the library's. Helpers (all RaftNode's): `send`,
`send_append_entries` (the leader's send to one peer, from its ``next_index``; this
class runs with ``RaftConfig(pipeline=False)``, so ``next_index`` moves only when
the learner moves it), `log_changed`, `reset_election_timer`, `majority`, `log`,
`commit_index`, `next_index`, `match_index`, `current_term`, `role`,
`become_follower`.

What it must never do: use the wall clock or unseeded randomness.
Where it fits: notebooks/assignments/source/05_raft_log.ipynb.
"""

from __future__ import annotations

import dataclasses
import functools
import random
from collections.abc import Callable

from distlab.assignments.verdict import Verdict, call_text, replaying, run_checks
from distlab.raft import (
    AppendEntries,
    AppendEntriesReply,
    NodeId,
    PersistedState,
    RaftConfig,
    RaftNode,
)
from distlab.sim import scenarios

__all__ = ["SEEDS", "ReplicationRaft", "check_replication"]

SEEDS = (1, 2, 3)


class ReplicationRaft(RaftNode):
    """A RaftNode whose log replication is written by a subclass (see the module docstring).

    The three methods below are hooks of `RaftNode` (its module docstring lists them):
    the core calls them at the right moments, so a subclass's versions replace the
    library's replication and nothing else.
    """

    def __init__(
        self,
        node_id: NodeId,
        peers: list[NodeId] | tuple[NodeId, ...],
        *,
        rng: random.Random,
        config: RaftConfig | None = None,
        persisted: PersistedState | None = None,
    ) -> None:
        # No pipelining: next_index moves only when a reply says so, so the learner's
        # reply handler is the whole story of where each follower stands.
        config = dataclasses.replace(config or RaftConfig(), pipeline=False)
        super().__init__(node_id, peers, rng=rng, config=config, persisted=persisted)

    # -- the three hooks a learner writes --------------------------------------------------

    def handle_append_entries(self, sender: NodeId, request: AppendEntries) -> None:
        """Follower: apply the leader's AppendEntries and answer it (§5.3)."""
        raise NotImplementedError("write handle_append_entries in your subclass")

    def handle_append_entries_reply(self, sender: NodeId, reply: AppendEntriesReply) -> None:
        """Leader: learn from a follower's answer (§5.3)."""
        raise NotImplementedError("write handle_append_entries_reply in your subclass")

    def advance_commit_index(self) -> None:
        """Leader: commit what a majority stores, from the current term only (§5.4.2)."""
        raise NotImplementedError("write advance_commit_index in your subclass")


def _seeded(scenario: Callable[..., object], node_cls: type[RaftNode], **kwargs: object):
    def run() -> None:
        for seed in SEEDS:
            replay = call_text(f"scenarios.{scenario.__name__}", seed, node_cls, **kwargs)
            replaying(replay, functools.partial(scenario, seed, node_cls, **kwargs))

    return run


def check_replication(node_cls: type[RaftNode]) -> Verdict:
    """Run part 2's checks (seeds 1, 2, 3) against ``node_cls``."""
    seeds = ", ".join(map(str, SEEDS))
    checks: list[tuple[str, Callable[..., object], dict[str, object]]] = [
        ("basic agreement", scenarios.basic_agreement, {}),
        (
            "agreement despite a disconnected follower",
            scenarios.agreement_despite_disconnected_follower,
            {},
        ),
        (
            "agreement after the leader crashes and restarts",
            scenarios.agreement_after_leader_crash,
            {},
        ),
        ("no agreement without a majority", scenarios.no_agreement_without_majority, {}),
        (
            "a rejoining old leader's entries are replaced",
            scenarios.stale_leader_entries_replaced,
            {},
        ),
        ("far-behind followers catch up", scenarios.far_behind_followers_catch_up, {}),
        ("unreliable network: agreement", scenarios.unreliable_agreement, {}),
        ("persistence: every server crashes and restarts", scenarios.whole_cluster_restarts, {}),
        ("persistence: majorities crash again and again", scenarios.repeated_majority_crashes, {}),
        ("Figure 8 as in the paper (scripted)", scenarios.figure8_paper, {}),
        (
            "Figure 8: leaders crash after short reigns",
            scenarios.figure8,
            {"iterations": 150, "unreliable": False},
        ),
        (
            "Figure 8 on an unreliable network",
            scenarios.figure8,
            {"iterations": 150, "unreliable": True},
        ),
        ("randomized crashes, partitions and losses", scenarios.random_fault_schedule, {}),
    ]
    return run_checks(
        f"Raft part 2: log replication and persistence (seeds {seeds})",
        [(name, _seeded(scenario, node_cls, **kwargs)) for name, scenario, kwargs in checks],
    )
