"""Assignment 13 (two-phase commit): the participant's side, with recovery.

What it is: `Participant`, a `distlab.txn.ShardCore` whose three 2PC rules are left to the
learner, and `check_two_phase_commit(participant_cls)`, which feeds single messages to one
shard and then runs seeded bank simulations (three clients, two shards, crashes of the
coordinator and of shards) and returns a `Verdict`. The learner writes:

- ``on_prepare(txid)``: the coordinator asks for a vote. A transaction alive here
  (``self.txns[txid]``, not yet prepared) becomes prepared: set ``.prepared = True``,
  release its *shared* locks (``self.locks.release(txid, key, "S")`` for keys it did not
  write), call ``self.mark_dirty()`` so the prepared record is on disk before any message
  leaves, then ``self.vote(txid, True)``. A transaction not here votes no. Already
  prepared: vote yes again (the coordinator may ask twice).
- ``on_decision(txid, commit)``: ``self.finish(txid, "committed" | "aborted")`` if the
  transaction is here, and ``self.acknowledge(txid)`` in every case (a repeated decision
  must be acknowledged again).
- ``restore_prepared(txid, writes)``: at boot, for every transaction prepared on disk:
  put it back (``self.txns[txid] = PreparedTxn(writes)``) and take its exclusive locks again
  (``self.locks.acquire(txid, key, "X")``). The library then asks the coordinator about it
  every few ticks.

The simulator checks after every event that a shard commits only what the coordinator's
log decided and that a prepared transaction keeps its locks; each run must also keep the
money constant, lose no committed transfer and be serializable.
What it must never do: use the wall clock or unseeded randomness.
Where it fits: notebooks/assignments/source/13_two_phase_commit.ipynb.
"""

from __future__ import annotations

from typing import Any

from distlab.assignments.verdict import Verdict, run_checks
from distlab.sim import SafetyViolation
from distlab.txn import ShardCore, run_bank
from distlab.txn.messages import Ack, Decision, Inquire, Prepare, Vote
from distlab.txn.shard import _Active

__all__ = ["CRASH_SEEDS", "SEEDS", "Participant", "PreparedTxn", "check_two_phase_commit"]

SEEDS = (1, 2, 3)
CRASH_SEEDS = tuple(range(1, 13))


def PreparedTxn(writes: dict[str, Any]) -> Any:
    """A transaction restored as prepared, holding ``writes``."""
    return _Active(dict(writes), prepared=True)


class Participant(ShardCore):
    """A shard whose 2PC participant rules are written by a subclass (module docstring)."""

    def on_prepare(self, txid: int) -> None:
        raise NotImplementedError("write on_prepare in your subclass")

    def on_decision(self, txid: int, commit: bool) -> None:
        raise NotImplementedError("write on_decision in your subclass")

    def restore_prepared(self, txid: int, writes: dict[str, Any]) -> None:
        raise NotImplementedError("write restore_prepared in your subclass")


def _messages(core: ShardCore) -> tuple[list[Any], Any]:
    ready = core.take_ready()
    return [e.message for e in ready.messages], ready.state


def prepare_is_durable_before_the_vote(cls: type[ShardCore]) -> None:
    shard = cls("n1")
    assert shard.read(1, "a") == ("ok", None)
    assert shard.write(1, "b", [5, 1]) == ("ok", None)
    shard.receive("n0", Prepare(1))
    sent, state = _messages(shard)
    assert sent == [Vote(1, True)], f"expected one yes vote, sent {sent}"
    assert state is not None and state["prepared"] == {"1": {"b": [5, 1]}}, (
        f"the yes vote left before the prepared record was persisted (persisted: {state})"
    )
    assert shard.locks.held() == {"b": "X by 1"}, (
        f"after prepare: exclusive locks kept, shared ones released; held {shard.locks.held()}"
    )
    shard.receive("n0", Prepare(1))
    assert _messages(shard)[0] == [Vote(1, True)], "a repeated Prepare must get yes again"


def unknown_transaction_votes_no(cls: type[ShardCore]) -> None:
    shard = cls("n1")
    shard.receive("n0", Prepare(9))
    sent, _ = _messages(shard)
    assert sent == [Vote(9, False)], f"a transaction this shard does not hold: sent {sent}"


def decisions_apply_release_and_acknowledge(cls: type[ShardCore]) -> None:
    for commit, expected in ((True, {"b": [5, 1]}), (False, {})):
        shard = cls("n1")
        shard.write(1, "b", [5, 1])
        shard.receive("n0", Prepare(1))
        shard.take_ready()
        shard.receive("n0", Decision(1, commit))
        sent, state = _messages(shard)
        assert sent == [Ack(1)], f"decision {commit}: expected an Ack, sent {sent}"
        assert shard.data == expected, f"decision {commit}: data is {shard.data}"
        assert state is not None and state["prepared"] == {}, "the outcome was not persisted"
        assert shard.locks.held() == {}, f"locks still held: {shard.locks.held()}"
        shard.receive("n0", Decision(1, commit))
        assert _messages(shard)[0] == [Ack(1)], "a repeated decision must be acknowledged"


def restart_keeps_prepared_and_asks(cls: type[ShardCore]) -> None:
    state = {"data": {}, "prepared": {"4": {"a": [1, 4]}}}
    shard = cls("n2", state)
    assert shard.prepared() == [4], "a transaction prepared on disk must be prepared again"
    assert shard.locks.held() == {"a": "X by 4"}, f"its locks: {shard.locks.held()}"
    assert shard.read(2, "a")[0] == "wait", "an older transaction must wait for the lock"
    for _ in range(shard.inquire_ticks):
        shard.tick()
    assert Inquire(4) in _messages(shard)[0], "a prepared shard asks the coordinator"
    shard.receive("n0", Decision(4, True))
    assert shard.data == {"a": [1, 4]}


def _bank(cls: type[ShardCore], seeds: tuple[int, ...], crashes: bool) -> Any:
    def run() -> None:
        for seed in seeds:
            try:
                result = run_bank(seed, transfers=25, crashes=crashes, shard_class=cls)
            except SafetyViolation as violation:
                raise AssertionError(f"seed {seed}: {violation}") from None
            assert result.total_after == result.total_before, (
                f"seed {seed}: money {result.total_before} became {result.total_after}"
            )
            assert result.lost_commits == 0, f"seed {seed}: committed transfers lost"
            assert result.check.verdict == "serializable", f"seed {seed}: {result.check.explain()}"

    return run


def check_two_phase_commit(participant_cls: type[ShardCore]) -> Verdict:
    """Run the assignment's checks against ``participant_cls``."""
    return run_checks(
        "two-phase commit, the participant (bank runs use seeds 1-3, with crashes 1-12)",
        [
            (
                "prepare: durable before the yes vote, locks kept",
                lambda: prepare_is_durable_before_the_vote(participant_cls),
            ),
            (
                "an unknown transaction votes no",
                lambda: unknown_transaction_votes_no(participant_cls),
            ),
            (
                "decisions apply, release and are acknowledged",
                lambda: decisions_apply_release_and_acknowledge(participant_cls),
            ),
            (
                "a restarted shard is still prepared and asks",
                lambda: restart_keeps_prepared_and_asks(participant_cls),
            ),
            ("bank transfers, no crashes", _bank(participant_cls, SEEDS, crashes=False)),
            (
                "bank transfers through crashes of coordinator and shards",
                _bank(participant_cls, CRASH_SEEDS, crashes=True),
            ),
        ],
    )
