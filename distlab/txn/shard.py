"""A shard server (分片) and 2PC participant (参与者): a pure core.

What it is: `ShardCore`, one shard of the sharded key-value store. It holds the keys the
shard map gives it, and runs the participant's side of a distributed transaction
(分布式事务):

- ``read(txid, key)`` / ``write(txid, key, value)`` under strict two-phase locking
  (`distlab.txn.locks.LockTable`, wait-die): the answer is ``("ok", value)``, ``("wait",
  None)`` (retry soon: an older transaction waits) or ``("die", None)`` (the transaction was
  aborted here; the client retries it as a new one). Writes are buffered until commit.
- ``Prepare`` from the coordinator: if the transaction is alive here, **log it as prepared
  durably** (its buffered writes), then vote yes, and from now on keep its exclusive locks
  whatever happens -- even across a crash -- until the coordinator's `Decision`. A shard
  that lost the transaction (it crashed before preparing: its locks and buffered writes
  were only in memory) votes no.
- ``Decision``: apply (commit) or discard (abort) the writes durably, release the locks, Ack.
- Every few ticks a prepared transaction asks the coordinator (``Inquire``): this is how a
  participant restarted in the prepared state learns the outcome. While the coordinator
  is down it cannot learn it, and must not guess: **it blocks, holding its locks**. That is
  the price of two-phase commit.

Shared locks are released when the transaction prepares (its reads are done; 2PL's lock
point is reached), so a recovered prepared transaction re-takes only its exclusive locks.

Durable state (`ShardReady.state`, written whole and fsync'ed before any message leaves):
the committed data and the prepared transactions.
What it must never do: vote yes before the prepared record is durable, release a prepared
transaction's locks before its decision, or apply an outcome nobody decided.
Where it fits: nodes ``n1 ..`` of `distlab.txn` (simulator and real processes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab.core import Envelope, NodeId, Ready
from distlab.txn.errors import TransactionClosed
from distlab.txn.locks import LockTable
from distlab.txn.messages import Ack, Decision, Inquire, Prepare, Vote

__all__ = ["COORDINATOR", "ShardCore", "ShardReady"]

COORDINATOR = "n0"


@dataclass(frozen=True)
class ShardReady(Ready):
    """The shard's `Ready`: its whole durable state (None: unchanged)."""

    state: dict[str, Any] | None = None

    @property
    def must_persist(self) -> bool:
        return self.state is not None


@dataclass
class _Active:
    writes: dict[str, Any] = field(default_factory=dict)
    prepared: bool = False


class ShardCore:
    """One shard; see the module docstring. Pure: no I/O, no clock."""

    def __init__(
        self,
        node_id: NodeId,
        state: dict[str, Any] | None = None,
        *,
        early_release: bool = False,
        inquire_ticks: int = 5,
    ) -> None:
        self.node_id = node_id
        self.early_release = early_release
        self.inquire_ticks = inquire_ticks
        self.data: dict[str, Any] = dict((state or {}).get("data", {}))
        self.locks = LockTable()
        self.txns: dict[int, _Active] = {}
        self.finished: dict[int, str] = {}  # txid -> "committed" | "aborted" (this session)
        self.aborts = 0
        self.now = 0
        self._outbox: list[Envelope] = []
        self._dirty = False
        for txid, writes in (state or {}).get("prepared", {}).items():
            self.restore_prepared(int(txid), dict(writes))

    # -- the client's side --------------------------------------------------------------

    def read(self, txid: int, key: str, fresh: bool = True) -> tuple[str, Any]:
        """``fresh``: this is the transaction's first operation here (else, a shard that does
        not know it lost it in a crash, with its locks: the transaction must die)."""
        if not fresh and txid not in self.txns and txid not in self.finished:
            return self._refused(txid, "die")
        txn = self._open(txid)
        if key in txn.writes:
            return "ok", txn.writes[key]
        grant = self.locks.acquire(txid, key, "S")
        if grant != "granted":
            return self._refused(txid, grant)
        value = self.data.get(key)
        if self.early_release and self.locks.locks[key].exclusive != txid:
            self.locks.release(txid, key, "S")  # the teaching switch: no longer 2PL
        return "ok", value

    def write(self, txid: int, key: str, value: Any, fresh: bool = True) -> tuple[str, Any]:
        if not fresh and txid not in self.txns and txid not in self.finished:
            return self._refused(txid, "die")
        txn = self._open(txid)
        grant = self.locks.acquire(txid, key, "X")
        if grant != "granted":
            return self._refused(txid, grant)
        txn.writes[key] = value
        return "ok", None

    def abort(self, txid: int) -> None:
        """The client gives up on ``txid`` here (before it prepared)."""
        txn = self.txns.get(txid)
        if txn is not None and txn.prepared:
            raise TransactionClosed(f"transaction {txid} is prepared: only its coordinator decides")
        self._finish(txid, "aborted")

    def _open(self, txid: int) -> _Active:
        if not isinstance(txid, int) or isinstance(txid, bool) or txid < 1:
            raise ValueError(f"a transaction id is a positive integer, got {txid!r}")
        if txid in self.finished:
            raise TransactionClosed(f"transaction {txid} already {self.finished[txid]}")
        txn = self.txns.setdefault(txid, _Active())
        if txn.prepared:
            raise TransactionClosed(f"transaction {txid} is prepared: no more reads or writes")
        return txn

    def _refused(self, txid: int, grant: str) -> tuple[str, Any]:
        if grant == "die":  # wait-die: the younger transaction aborts here, now
            self.aborts += 1
            self._finish(txid, "aborted")
        return grant, None

    def _finish(self, txid: int, outcome: str) -> None:
        txn = self.txns.pop(txid, None)
        self.locks.release_all(txid)
        self.finished[txid] = outcome
        if txn is not None and txn.prepared:
            if outcome == "committed":
                self.data.update(txn.writes)
            self._dirty = True

    # -- the coordinator's side ----------------------------------------------------------

    def tick(self) -> None:
        self.now += 1
        if self.now % self.inquire_ticks == 0:
            for txid, txn in sorted(self.txns.items()):
                if txn.prepared:
                    self._send(Inquire(txid))

    def receive(self, sender: NodeId, message: Any) -> None:
        if isinstance(message, Prepare):
            self.on_prepare(message.txid)
        elif isinstance(message, Decision):
            self.on_decision(message.txid, message.commit)

    # -- the participant's three rules (assignment 13 has learners write them) -----------

    def on_prepare(self, txid: int) -> None:
        """Vote: yes only for a transaction alive here, made durable as prepared first."""
        txn = self.txns.get(txid)
        if txn is None:  # lost in a crash, aborted by wait-die, or never seen
            self.vote(txid, False)
            return
        if not txn.prepared:
            txn.prepared = True
            for key in list(self.locks.locks):
                if key not in txn.writes:
                    self.locks.release(txid, key, "S")
            self.mark_dirty()  # the prepared record is durable before the vote leaves
        self.vote(txid, True)

    def on_decision(self, txid: int, commit: bool) -> None:
        """Apply (or discard) durably, release the locks, acknowledge -- even if unknown."""
        if txid in self.txns:
            self.finish(txid, "committed" if commit else "aborted")
        self.acknowledge(txid)

    def restore_prepared(self, txid: int, writes: dict[str, Any]) -> None:
        """At boot: a transaction found prepared on disk is prepared again, with its locks."""
        self.txns[txid] = _Active(writes, prepared=True)
        for key in writes:
            self.locks.acquire(txid, key, "X")

    # -- helpers for those rules ------------------------------------------------------------

    def vote(self, txid: int, yes: bool) -> None:
        self._send(Vote(txid, yes))

    def acknowledge(self, txid: int) -> None:
        self._send(Ack(txid))

    def mark_dirty(self) -> None:
        """The durable state changed: the next Ready persists it before its messages."""
        self._dirty = True

    def finish(self, txid: int, outcome: str) -> None:
        """End ``txid`` here: ``"committed"`` applies its writes (durably), ``"aborted"``
        drops them; its locks are released."""
        self._finish(txid, outcome)

    def _send(self, message: Any) -> None:
        self._outbox.append(Envelope(self.node_id, COORDINATOR, message))

    def has_ready(self) -> bool:
        return self._dirty or bool(self._outbox)

    def take_ready(self) -> ShardReady:
        state = self.durable_state() if self._dirty else None
        messages, self._outbox, self._dirty = self._outbox, [], False
        return ShardReady(messages=messages, state=state)

    def durable_state(self) -> dict[str, Any]:
        """What survives a crash: committed data and prepared transactions (JSON-able)."""
        prepared = {str(t): dict(x.writes) for t, x in self.txns.items() if x.prepared}
        return {"data": dict(self.data), "prepared": prepared}

    def prepared(self) -> list[int]:
        return sorted(t for t, x in self.txns.items() if x.prepared)

    def fields(self) -> dict[str, Any]:
        return {
            "keys": len(self.data),
            "locks": self.locks.held(),
            "prepared": self.prepared(),
            "active": sorted(t for t, x in self.txns.items() if not x.prepared),
            "aborts": self.aborts,
        }
