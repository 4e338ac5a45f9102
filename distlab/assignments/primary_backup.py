"""Assignment 7 (primary-backup): the output rule and going live with test-and-set.

What it is: `FTReplica`, a `distlab.primary_backup.Replica` whose four rule hooks are left
to the learner, and `check_primary_backup(replica_cls)`, which feeds single messages to one
replica, then runs the chapter's experiments and a seeded sweep of crashes and cut logging
channels in the simulator, and returns a `Verdict`. The learner subclasses FTReplica and
writes:

- ``emit_reply(reply)``: a reply is ready; a paired primary (``self.role == PRIMARY``) holds
  it (``self.hold(reply)``) until the backup has acknowledged its entry
  (``reply.index <= self.acked_index``); otherwise ``self.send_reply(reply)``;
- ``release_acknowledged()``: ``self.acked_index`` grew: send, in order, each reply in
  ``self.held`` whose entry the backup now holds, and keep the rest in ``self.held``;
- ``partner_silent()``: the partner fell silent; ask the arbiter (``self.ask_arbiter()``)
  instead of going live;
- ``arbiter_answered(granted, holder)``: the winner goes live (``self.go_live()``), the loser
  stops (``self.stop(reason)``).

Everything else (the machine, the log and its shipping, replay, failure detection,
rejoining) is the library's. The rules of the simulator that judge it are named: Output
Rule, At Most One Live Replica, Acknowledged Operations Survive; the clients' histories are
judged by the linearizability checker.

What it must never do: use the wall clock or unseeded randomness; the same class gets the
same verdict on every machine.
Where it fits: notebooks/assignments/source/07_primary_backup.ipynb.
"""

from __future__ import annotations

import random

from distlab.assignments.verdict import Verdict, replaying, run_checks
from distlab.primary_backup import (
    LIVE,
    PRIMARY,
    STOPPED,
    Replica,
    Reply,
    lost_output,
    run_schedule,
    split_brain,
)
from distlab.primary_backup.messages import LogAck, TestAndSet, TestAndSetReply

__all__ = ["SEEDS", "FTReplica", "check_primary_backup"]

SEEDS = (1, 2, 3, 4, 5)


class FTReplica(Replica):
    """A Replica whose rules are written by a subclass (see the module docstring)."""

    def emit_reply(self, reply: Reply) -> None:
        """Send the reply now, or hold it until the backup holds its entry."""
        raise NotImplementedError("write emit_reply in your subclass")

    def release_acknowledged(self) -> None:
        """Send the held replies the backup has now acknowledged, in order."""
        raise NotImplementedError("write release_acknowledged in your subclass")

    def partner_silent(self) -> None:
        """The partner is silent: ask before going live."""
        raise NotImplementedError("write partner_silent in your subclass")

    def arbiter_answered(self, granted: bool, holder: str) -> None:
        """The winner goes live; the loser stops."""
        raise NotImplementedError("write arbiter_answered in your subclass")


def _pair(replica_cls: type[Replica]) -> tuple[Replica, Replica]:
    primary = replica_cls("n0", "n1", "n2", random.Random(1), starts_as_primary=True)
    backup = replica_cls("n1", "n0", "n2", random.Random(2))
    primary.take_ready(), backup.take_ready()
    return primary, backup


def _replies(replica: Replica) -> list[Reply]:
    return [item for item in replica.take_ready().outputs if isinstance(item, Reply)]


def holds_until_acknowledged(replica_cls: type[Replica]) -> None:
    """A paired primary's reply waits for the backup's acknowledgement of its entry."""
    primary, _ = _pair(replica_cls)
    primary.submit("c", 1, "put", "x", "1")
    assert _replies(primary) == [], "the primary replied before the backup held the entry"
    primary.receive("n1", LogAck(epoch=1, index=1))
    replies = _replies(primary)
    assert [(r.client, r.seq) for r in replies] == [("c", 1)], (
        f"after the backup acknowledged entry 1 the primary sent {replies} (expected c#1)"
    )


def releases_in_order_only_what_is_acknowledged(replica_cls: type[Replica]) -> None:
    """An acknowledgement of entry 2 releases replies 1 and 2, in order, and not 3."""
    primary, _ = _pair(replica_cls)
    for seq in (1, 2, 3):
        primary.submit(f"c{seq}", 1, "put", "x", str(seq))
    primary.take_ready()
    primary.receive("n1", LogAck(epoch=1, index=2))
    sent = [r.index for r in _replies(primary)]
    assert sent == [1, 2], f"an acknowledgement up to entry 2 sent the replies of entries {sent}"
    assert [r.index for r in primary.held] == [3], "entry 3's reply is no longer held"
    primary.receive("n1", LogAck(epoch=1, index=3))
    assert [r.index for r in _replies(primary)] == [3], "entry 3's reply was never sent"


def asks_before_going_live(replica_cls: type[Replica]) -> None:
    """A backup whose primary fell silent asks the arbiter, and goes live only on a yes."""
    _, backup = _pair(replica_cls)
    for _ in range(backup.config.failover_timeout_ticks + 1):
        backup.tick()
    asked = [e.message for e in backup.take_ready().messages if e.dst == "n2"]
    assert backup.role != LIVE, "the backup went live without asking the arbiter"
    assert TestAndSet(1, "n1") in asked, "the backup never sent the arbiter a TestAndSet"
    backup.receive("n2", TestAndSetReply(1, "n1", True, "n1", 1))
    assert backup.role == LIVE, f"granted the flag, the backup is {backup.role}, not live"


def the_loser_stops(replica_cls: type[Replica]) -> None:
    """A primary that loses the test-and-set stops and answers nobody."""
    primary, _ = _pair(replica_cls)
    primary.submit("c", 1, "put", "x", "1")
    for _ in range(primary.config.failover_timeout_ticks + 1):
        primary.tick()
    primary.take_ready()
    primary.receive("n2", TestAndSetReply(1, "n0", False, "n1", 1))
    assert primary.role == STOPPED, f"refused the flag, the primary is {primary.role}"
    assert _replies(primary) == [], "the loser sent a reply the winner may not have"
    assert primary.role != PRIMARY


def _experiment(run, name: str, replica_cls: type[Replica]) -> None:
    for seed in SEEDS:

        def one(seed: int = seed) -> None:
            result = run(seed, replica_cls=replica_cls)
            broken = [violation.rule for violation in result.violations]
            assert not broken, f"{name} broke {', '.join(broken)}"
            assert result.linearizable, f"{name}: the history is not linearizable"

        replaying(f"{run.__name__}({seed}, replica_cls={replica_cls.__name__})", one)


def _sweep(replica_cls: type[Replica]) -> None:
    for seed in SEEDS:

        def one(seed: int = seed) -> None:
            result = run_schedule(
                seed, operations=40, faults=4, enforce=False, replica_cls=replica_cls
            )
            where = f"faults: {', '.join(result.faults)}"
            broken = [violation.rule for violation in result.violations]
            assert not broken, f"broke {', '.join(broken)} ({where})"
            assert result.linearizable, f"the history is not linearizable ({where})"
            assert result.acknowledged_writes_lost == 0, f"acknowledged writes lost ({where})"

        replay = (
            f"run_schedule({seed}, operations=40, faults=4, enforce=False, "
            f"replica_cls={replica_cls.__name__})"
        )
        replaying(replay, one)


def check_primary_backup(replica_cls: type[Replica]) -> Verdict:
    """Run the assignment's checks (the simulated ones on every seed in `SEEDS`)."""
    seeds = ", ".join(map(str, SEEDS))
    return run_checks(
        f"Primary-backup: the output rule and test-and-set (simulated runs use seeds {seeds})",
        [
            (
                "holds a reply until the backup acknowledges it",
                lambda: holds_until_acknowledged(replica_cls),
            ),
            (
                "releases in order only what is acknowledged",
                lambda: releases_in_order_only_what_is_acknowledged(replica_cls),
            ),
            ("asks the arbiter before going live", lambda: asks_before_going_live(replica_cls)),
            ("the loser of the test-and-set stops", lambda: the_loser_stops(replica_cls)),
            (
                "a crash after a cut channel loses no acknowledged write",
                lambda: _experiment(lost_output, "lost output", replica_cls),
            ),
            (
                "a cut channel leaves one live replica",
                lambda: _experiment(split_brain, "split brain", replica_cls),
            ),
            ("seeded sweep of crashes and cuts: linearizable", lambda: _sweep(replica_cls)),
        ],
    )
