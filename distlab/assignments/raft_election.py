"""Assignment 4 (Raft, part 1): leader election, written by the learner, checked in the simulator.

What it is: `ElectionRaft`, a `RaftNode` whose three election steps are left to
the learner (6.824 lab 2A), and `check_election(node_cls)`, which runs the
seeded election scenarios of `distlab.sim.scenarios` plus three
single-node checks of the voting rules, and returns a `Verdict`. The learner
subclasses ElectionRaft and writes:

- ``start_election()``: the election timer fired (§5.2): become a candidate and
  ask every peer for its vote;
- ``handle_request_vote(sender, request)``: decide whether to grant a vote
  (one per term, only to a candidate whose log is at least as up to date, §5.4.1)
  and reply;
- ``handle_request_vote_reply(sender, reply)``: count votes; become leader on a majority.

Everything else (timers, stepping down on a later term, heartbeats, log
replication) is the library's. The three methods are `RaftNode`'s documented
hooks, so the learner's versions simply replace the library's. Helpers: `persist`
(here), and RaftNode's `send`, `reset_election_timer`, `votes`, `majority`,
`become_candidate`, `become_leader`, `current_term`, `voted_for`, `role`, `log`.

What it must never do: use the wall clock or unseeded randomness; the same
class gets the same verdict on every machine.
Where it fits: notebooks/assignments/source/04_raft_election.ipynb.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable

from distlab.assignments.verdict import Verdict, call_text, replaying, run_checks
from distlab.raft import (
    HardState,
    LogEntry,
    NodeId,
    PersistedState,
    RaftNode,
    RequestVote,
    RequestVoteReply,
)
from distlab.sim import scenarios

__all__ = ["SEEDS", "ElectionRaft", "check_election"]

SEEDS = (1, 2, 3, 4, 5)


class ElectionRaft(RaftNode):
    """A RaftNode whose election is written by a subclass (see the module docstring).

    The three methods below are hooks of `RaftNode` (its module docstring lists them):
    the core calls them at the right moments, so a subclass's versions replace the
    library's election and nothing else.
    """

    # -- the three hooks a learner writes --------------------------------------------------

    def start_election(self) -> None:
        """The election timer fired: stand for election (§5.2)."""
        raise NotImplementedError("write start_election in your subclass")

    def handle_request_vote(self, sender: NodeId, request: RequestVote) -> None:
        """Answer a candidate's RequestVote with a RequestVoteReply (§5.2, §5.4.1)."""
        raise NotImplementedError("write handle_request_vote in your subclass")

    def handle_request_vote_reply(self, sender: NodeId, reply: RequestVoteReply) -> None:
        """Count a vote; win on a majority (§5.2)."""
        raise NotImplementedError("write handle_request_vote_reply in your subclass")

    # -- helpers (RaftNode offers send, reset_election_timer, votes and majority) ------------

    def persist(self) -> None:
        """Say that ``current_term``/``voted_for`` changed: the driver writes them to disk
        before any message queued now leaves (Figure 2: persist before replying)."""
        self.persist_hard_state()


def _make(node_cls: type[RaftNode], persisted: PersistedState | None = None) -> RaftNode:
    return node_cls("n1", ["n2", "n3"], rng=random.Random(0), persisted=persisted)


def _replies(node: RaftNode) -> list[RequestVoteReply]:
    ready = node.take_ready()
    return [e.message for e in ready.messages if isinstance(e.message, RequestVoteReply)]


def _one_reply(node: RaftNode, what: str) -> RequestVoteReply:
    replies = _replies(node)
    assert len(replies) == 1, f"{what}: expected one RequestVoteReply, got {len(replies)}"
    return replies[0]


def vote_survives_restart(node_cls: type[RaftNode]) -> None:
    """A vote is on disk before the reply leaves, so a restarted node cannot vote twice."""
    # The node already knows term 1, so only the vote itself changes its hard state.
    node = _make(node_cls, PersistedState(HardState(current_term=1)))
    node.receive("n2", RequestVote(term=1, candidate_id="n2", last_log_index=0, last_log_term=0))
    ready = node.take_ready()
    replies = [e.message for e in ready.messages if isinstance(e.message, RequestVoteReply)]
    assert replies and replies[0].vote_granted, "a fresh node refused its first candidate"
    assert ready.hard_state is not None and ready.hard_state.voted_for == "n2", (
        "the vote for n2 was not handed to the driver to persist (call self.persist())"
    )
    restarted = _make(node_cls, PersistedState(hard_state=ready.hard_state))
    restarted.receive(
        "n3", RequestVote(term=1, candidate_id="n3", last_log_index=0, last_log_term=0)
    )
    reply = _one_reply(restarted, "after a restart")
    assert not reply.vote_granted, "after a restart it voted again in term 1 (for n3)"


def vote_only_for_up_to_date_logs(node_cls: type[RaftNode]) -> None:
    """§5.4.1: a later last term wins; with equal last terms, the longer log wins."""
    entries = (LogEntry(1, 1, "a"), LogEntry(2, 2, "b"))
    persisted = PersistedState(HardState(current_term=2), None, entries)
    cases = [
        ("last term 1 but longer", RequestVote(3, "n2", 5, 1), False),
        ("last term 2 but shorter", RequestVote(4, "n2", 1, 2), False),
        ("last term 2, same length", RequestVote(5, "n3", 2, 2), True),
    ]
    for what, request, expected in cases:
        node = _make(node_cls, persisted)
        node.receive(request.candidate_id, request)
        reply = _one_reply(node, what)
        assert reply.vote_granted == expected, (
            f"our log ends (term 2, index 2); a candidate with {what} was "
            f"{'granted' if reply.vote_granted else 'refused'} a vote"
        )


def stale_candidate_refused(node_cls: type[RaftNode]) -> None:
    """A candidate from an older term is refused and told the current term."""
    node = _make(node_cls, PersistedState(HardState(current_term=5)))
    node.receive("n2", RequestVote(term=3, candidate_id="n2", last_log_index=0, last_log_term=0))
    reply = _one_reply(node, "a term-3 candidate asking a term-5 node")
    assert not reply.vote_granted, "granted a vote to a candidate of an older term"
    assert reply.term == 5, f"the reply carries term {reply.term}, not our term 5"


def _seeded(scenario: Callable[[int, type[RaftNode]], object], node_cls: type[RaftNode]):
    def run() -> None:
        for seed in SEEDS:
            replay = call_text(f"scenarios.{scenario.__name__}", seed, node_cls)
            replaying(replay, functools.partial(scenario, seed, node_cls))

    return run


def check_election(node_cls: type[RaftNode]) -> Verdict:
    """Run part 1's checks (the simulated ones on every seed in `SEEDS`) against ``node_cls``."""
    seeds = ", ".join(map(str, SEEDS))
    return run_checks(
        f"Raft part 1: leader election (simulated runs use seeds {seeds})",
        [
            (
                "votes only for candidates with up-to-date logs",
                lambda: vote_only_for_up_to_date_logs(node_cls),
            ),
            ("refuses a candidate of an older term", lambda: stale_candidate_refused(node_cls)),
            ("a vote survives a restart", lambda: vote_survives_restart(node_cls)),
            (
                "initial election: one leader, terms stay put",
                _seeded(scenarios.initial_election, node_cls),
            ),
            (
                "re-election after the leader is disconnected",
                _seeded(scenarios.reelection_after_disconnect, node_cls),
            ),
            (
                "re-election after the leader crashes",
                _seeded(scenarios.reelection_after_crash, node_cls),
            ),
            (
                "no leader without a majority",
                _seeded(scenarios.no_leader_without_majority, node_cls),
            ),
            (
                "7 servers, 3 cut off at a time, 10 times",
                _seeded(scenarios.many_elections, node_cls),
            ),
        ],
    )
