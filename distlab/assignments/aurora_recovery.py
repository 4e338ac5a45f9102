"""Assignment 11 (Aurora): the writer's commit tracking and recovery point, in the simulator.

What it is: `AuroraRecovery`, a `distlab.aurora.Writer` whose two decisions are left to the
learner, and `check_aurora_recovery(writer_cls)`, which feeds single messages to one writer
and then runs seeded simulator runs with crashes of storage nodes, whole zones, a zone plus
one node and the writer, and returns a `Verdict`. The learner writes:

- ``volume_complete_lsn()``: the highest LSN below which every record is durable on a
  write quorum -- the W-th highest of the storage nodes' durable LSNs (``self.durable``:
  node -> durable LSN, missing for a node not heard from; ``self.storage``, the nodes;
  ``self.write_quorum``, W). The library commits every transaction that ends at or below it.
- ``recovery_point(infos)``: after a crash, from a read quorum's answers (``infos``: node ->
  `RecoveryInfo` with ``scl``, the node's durable LSN, and ``cpl``, the last transaction end
  at or below it), the node to copy the log from and the LSN where the log is cut.

The simulator's named safety checks run after every event (*Commit Only On A Write Quorum*,
*Truncation Never Cuts A Commit*, *Recovery Cuts At A Transaction End*) and a run's verdict
counts acknowledged commits lost and transactions half-applied.
What it must never do: use the wall clock or unseeded randomness; the same class gets the same
verdict on every machine. Where it fits: notebooks/assignments/source/11_aurora_recovery.ipynb.
"""

from __future__ import annotations

from distlab.assignments.verdict import Verdict, run_checks
from distlab.aurora import Committed, Writer, run_aurora
from distlab.aurora.messages import Durable, RecoveryInfo
from distlab.aurora.simulated import (
    recover_from_a_half_written_transaction,
    recover_with_laggards,
)
from distlab.sim import UNRELIABLE

__all__ = ["SEEDS", "AuroraRecovery", "check_aurora_recovery"]

SEEDS = (1, 2, 3)
STORAGE = ("n1", "n2", "n3", "n4", "n5", "n6")


class AuroraRecovery(Writer):
    """A writer whose commit tracking and recovery point a subclass writes (module docstring)."""

    def volume_complete_lsn(self) -> int:
        """The W-th highest durable LSN among the storage nodes (0 for one not heard from)."""
        raise NotImplementedError("write volume_complete_lsn in your subclass")

    def recovery_point(self, infos: dict[str, RecoveryInfo]) -> tuple[str, int]:
        """(the node with the longest log, the last transaction end in it)."""
        raise NotImplementedError("write recovery_point in your subclass")


def _writer(writer_cls: type[Writer], write_quorum: int = 4) -> Writer:
    """An open writer of epoch 1 over an empty volume: every node answered at LSN 0."""
    writer = writer_cls("n0", STORAGE, 1, write_quorum=write_quorum)
    writer.phase, writer.durable = "open", dict.fromkeys(STORAGE, 0)
    writer.heard = dict.fromkeys(STORAGE, 0)
    writer.take_ready()
    return writer


def vcl_is_the_wth_highest(writer_cls: type[Writer]) -> None:
    cases = [
        (4, {"n1": 9, "n2": 7, "n3": 7, "n4": 5, "n5": 3, "n6": 1}, 5),
        (4, {"n1": 9, "n2": 8, "n3": 2}, 0),
        (6, {"n1": 9, "n2": 9, "n3": 9, "n4": 9, "n5": 9, "n6": 4}, 4),
        (1, {"n4": 12}, 12),
    ]
    for quorum, durable, expected in cases:
        writer = _writer(writer_cls, quorum)
        writer.durable = dict(durable)
        got = writer.volume_complete_lsn()
        assert got == expected, (
            f"W={quorum}, durable LSNs {durable}: got {got}, expected {expected}"
        )


def commits_wait_for_w_nodes(writer_cls: type[Writer]) -> None:
    writer = _writer(writer_cls)
    writer.commit("t1", (("p1", "a"), ("p2", "a")))
    writer.take_ready()
    for count, node in enumerate(STORAGE[:3], start=1):
        writer.receive(node, Durable(1, 2))
        done = [o for o in writer.take_ready().outputs if isinstance(o, Committed)]
        assert not done, f"t1 committed with only {count} of 6 nodes holding it (W = 4)"
    writer.receive("n4", Durable(1, 2))
    done = [o for o in writer.take_ready().outputs if isinstance(o, Committed)]
    assert done == [Committed("t1", 2)], f"the fourth node holds t1; outputs were {done}"


def recovery_point_of_the_longest_log(writer_cls: type[Writer]) -> None:
    writer = _writer(writer_cls)
    infos = {
        "n2": RecoveryInfo(2, 7, 6),
        "n4": RecoveryInfo(2, 12, 10),
        "n5": RecoveryInfo(2, 3, 3),
    }
    got = writer.recovery_point(dict(infos))
    assert tuple(got) == ("n4", 10), (
        f"answers {infos}: got {got}, expected ('n4', 10) -- the longest log, cut at its last "
        "transaction end"
    )


def _sweep(writer_cls: type[Writer]) -> None:
    for seed in SEEDS:
        run = run_aurora(seed, faults=4, network=UNRELIABLE, writer_factory=writer_cls)
        assert run.linearizable, f"seed {seed}: the checker's verdict is {run.verdict}"
        assert run.acknowledged_lost == 0, f"seed {seed}: acknowledged commits lost"
        assert run.half_applied == 0, f"seed {seed}: transactions half-applied"


def _laggards(writer_cls: type[Writer]) -> None:
    world = recover_with_laggards(writer_factory=writer_cls)
    lost = [
        op
        for op, lsn in world.system.acknowledged.items()  # type: ignore[attr-defined]
        if lsn > world.nodes["n0"].vdl
    ]
    assert not lost, f"acknowledged commits lost in the recovery: {sorted(lost)[:3]}"


def _half_written(writer_cls: type[Writer]) -> None:
    world = recover_from_a_half_written_transaction(writer_factory=writer_cls)
    assert world.nodes["n0"].vdl == 2, f"the log was cut at {world.nodes['n0'].vdl}, not 2"


def check_aurora_recovery(writer_cls: type[Writer]) -> Verdict:
    """Run the assignment's checks against ``writer_cls``."""
    seeds = ", ".join(map(str, SEEDS))
    return run_checks(
        f"Aurora's writer: commit tracking and recovery (simulated runs use seeds {seeds})",
        [
            ("the VCL is the W-th highest durable LSN", lambda: vcl_is_the_wth_highest(writer_cls)),
            (
                "a transaction commits on the W-th node",
                lambda: commits_wait_for_w_nodes(writer_cls),
            ),
            (
                "the recovery point is the last transaction end of the longest log",
                lambda: recovery_point_of_the_longest_log(writer_cls),
            ),
            ("a recovery among laggards keeps every commit", lambda: _laggards(writer_cls)),
            ("a half-written transaction is cut away", lambda: _half_written(writer_cls)),
            ("zones and the writer crashed: nothing lost", lambda: _sweep(writer_cls)),
        ],
    )
