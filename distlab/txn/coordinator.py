"""The coordinator (协调者), or transaction manager, of two-phase commit: a pure core.

What it is: `Coordinator`, node ``n0`` of `distlab.txn`. It hands out transaction ids
(ordered: wait-die's ages) and runs two-phase commit for each transaction:

1. ``commit(txid, participants)``: send ``Prepare`` to every shard the transaction touched.
2. Collect votes. Any no (or no answer within ``prepare_timeout`` ticks) means abort; all yes
   means commit. **The decision is written to the coordinator's log durably before anyone is
   told** (the `CoordinatorReady.records` are persisted before its messages leave): once a
   participant may have applied it, the coordinator can never forget it.
3. Send the ``Decision`` until every participant has acknowledged it, then log ``end``.

Recovery: a restarted coordinator replays its log (`Coordinator.from_log`); decided,
unacknowledged transactions are told again. A transaction begun but never decided is
**presumed aborted**: nobody can have committed it, because commit is only ever sent after
it is logged. A participant's ``Inquire`` about it gets ``Decision(abort)``.

The log records: ``["txids", upto]`` (ids up to ``upto`` may be in use: a restarted
coordinator starts above it, so an id is never handed out twice, at the cost of one log
write per `TXID_BATCH` transactions instead of one per transaction),
``["decide", txid, commit, [participants]]`` and ``["end", txid]`` (the end needs no fsync
of its own: losing it only makes a restarted coordinator send a decision again).
What it must never do: tell a participant a decision before it is on disk, or decide commit
without a yes from every participant.
Where it fits: `distlab.txn.simulated` drives it in a World, `distlab.txn.node` in a process,
`distlab.txn.postgres` against two real PostgreSQL servers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab.core import Envelope, NodeId, Ready
from distlab.txn.errors import TransactionClosed, UnknownTransaction
from distlab.txn.messages import Ack, Decision, Inquire, Prepare, Vote

__all__ = ["TXID_BATCH", "Coordinator", "CoordinatorReady"]

#: How many transaction ids one ``txids`` log record reserves.
TXID_BATCH = 1000


@dataclass(frozen=True)
class CoordinatorReady(Ready):
    """The coordinator's `Ready`: log records to append durably before sending."""

    records: list[list[Any]] = field(default_factory=list)

    @property
    def must_persist(self) -> bool:
        return bool(self.records)


@dataclass
class _Txn:
    state: str  # active | preparing | committed | aborted
    participants: tuple[str, ...] = ()
    votes: set[str] = field(default_factory=set)
    unacked: set[str] = field(default_factory=set)
    since: int = 0


class Coordinator:
    """Two-phase commit's coordinator; see the module docstring. Pure: no I/O, no clock."""

    def __init__(
        self, node_id: NodeId = "n0", *, prepare_timeout: int = 100, resend_ticks: int = 10
    ) -> None:
        self.node_id = node_id
        self.prepare_timeout = prepare_timeout
        self.resend_ticks = resend_ticks
        self.txns: dict[int, _Txn] = {}
        self.next_txid = 1
        self._reserved = 0  # ids up to this are reserved in the log
        self.now = 0
        self.commits = 0
        self.aborts = 0
        self._records: list[list[Any]] = []
        self._outbox: list[Envelope] = []

    @classmethod
    def from_log(
        cls, records: list[list[Any]], node_id: NodeId = "n0", **options: Any
    ) -> Coordinator:
        """A coordinator restarted from its log (see "Recovery" above)."""
        core = cls(node_id, **options)
        for record in records:
            kind, txid = record[0], int(record[1])
            core.next_txid = max(core.next_txid, txid + 1)
            if kind == "txids":
                core._reserved = max(core._reserved, txid)
            elif kind == "begin":  # an older log's record: presumed abort unless decided
                core.txns[txid] = _Txn("aborted")
            elif kind == "decide":
                outcome = "committed" if record[2] else "aborted"
                participants = tuple(record[3])
                core.txns[txid] = _Txn(outcome, participants, unacked=set(participants))
            elif kind == "end" and txid in core.txns:
                core.txns[txid].unacked.clear()
        core.next_txid = max(core.next_txid, core._reserved + 1)
        core._reserved = 0 if core.next_txid == 1 else core.next_txid - 1
        for txid, txn in sorted(core.txns.items()):
            for shard in sorted(txn.unacked):
                core._send(shard, Decision(txid, txn.state == "committed"))
        return core

    # -- the client's side --------------------------------------------------------------

    def begin(self) -> int:
        if self.next_txid > self._reserved:  # reserve the next batch of ids, durably
            self._reserved = self.next_txid + TXID_BATCH - 1
            self._records.append(["txids", self._reserved])
        txid = self.next_txid
        self.next_txid += 1
        self.txns[txid] = _Txn("active", since=self.now)
        return txid

    def commit(self, txid: int, participants: list[str] | tuple[str, ...]) -> None:
        """Start two-phase commit of ``txid`` over the shards it touched."""
        txn = self._active(txid)
        txn.participants = tuple(sorted(set(participants)))
        if not txn.participants:
            self._decide(txid, True)
            return
        txn.state, txn.since = "preparing", self.now
        for shard in txn.participants:
            self._send(shard, Prepare(txid))

    def abort(self, txid: int, participants: list[str] | tuple[str, ...] = ()) -> None:
        txn = self._active(txid)
        txn.participants = tuple(sorted(set(participants)))
        self._decide(txid, False)

    def outcome(self, txid: int) -> str:
        """``"active"``, ``"preparing"``, ``"committed"`` or ``"aborted"`` (an id handed
        out before a restart and never decided: aborted, presumed)."""
        if not isinstance(txid, int) or isinstance(txid, bool) or not 0 < txid < self.next_txid:
            raise UnknownTransaction(txid)
        txn = self.txns.get(txid)
        return "aborted" if txn is None else txn.state

    def _active(self, txid: int) -> _Txn:
        if not isinstance(txid, int) or isinstance(txid, bool) or not 0 < txid < self.next_txid:
            raise UnknownTransaction(txid)
        txn = self.txns.setdefault(txid, _Txn("aborted"))  # lost in a restart: presumed abort
        if txn.state != "active":
            raise TransactionClosed(f"transaction {txid} is already {txn.state}")
        return txn

    def _decide(self, txid: int, commit: bool) -> None:
        txn = self.txns[txid]
        txn.state = "committed" if commit else "aborted"
        if commit:
            self.commits += 1
        else:
            self.aborts += 1
        txn.unacked = set(txn.participants)
        self._records.append(["decide", txid, commit, list(txn.participants)])
        for shard in txn.participants:
            self._send(shard, Decision(txid, commit))

    # -- the participants' side ------------------------------------------------------------

    def tick(self) -> None:
        self.now += 1
        for txid, txn in sorted(self.txns.items()):
            if txn.state == "preparing":
                if self.now - txn.since >= self.prepare_timeout:
                    self._decide(txid, False)  # not everyone answered: abort is still ours
                elif (self.now - txn.since) % self.resend_ticks == 0:
                    for shard in txn.participants:
                        if shard not in txn.votes:
                            self._send(shard, Prepare(txid))
            elif txn.unacked and self.now % self.resend_ticks == 0:
                for shard in sorted(txn.unacked):
                    self._send(shard, Decision(txid, txn.state == "committed"))

    def receive(self, sender: NodeId, message: Any) -> None:
        txn = self.txns.get(getattr(message, "txid", -1))
        if isinstance(message, Vote):
            if txn is None or txn.state != "preparing":
                if txn is not None and txn.state in ("committed", "aborted"):
                    self._send(sender, Decision(message.txid, txn.state == "committed"))
                return
            if not message.yes:
                self._decide(message.txid, False)
                return
            txn.votes.add(sender)
            if txn.votes >= set(txn.participants):
                self._decide(message.txid, True)
        elif isinstance(message, Ack):
            if txn is not None and sender in txn.unacked:
                txn.unacked.discard(sender)
                if not txn.unacked:
                    self._records.append(["end", message.txid])
        elif isinstance(message, Inquire):
            if txn is None or txn.state == "active":  # presumed abort
                if txn is None:
                    self.txns[message.txid] = txn = _Txn("aborted")
                else:
                    self._decide(message.txid, False)
                    return
            if txn.state in ("committed", "aborted"):
                txn.unacked.add(sender)
                self._send(sender, Decision(message.txid, txn.state == "committed"))

    def _send(self, shard: str, message: Any) -> None:
        self._outbox.append(Envelope(self.node_id, shard, message))

    def has_ready(self) -> bool:
        return bool(self._records or self._outbox)

    def take_ready(self) -> CoordinatorReady:
        ready = CoordinatorReady(messages=self._outbox, records=self._records)
        self._outbox, self._records = [], []
        return ready

    def decided(self) -> dict[int, str]:
        return {t: x.state for t, x in self.txns.items() if x.state in ("committed", "aborted")}

    def fields(self) -> dict[str, Any]:
        waiting = sorted(t for t, x in self.txns.items() if x.state in ("active", "preparing"))
        return {"commits": self.commits, "aborts": self.aborts, "open": waiting}
