"""The same coordinator driving two real PostgreSQL servers through two-phase commit.

What it is: `PostgresBank`, the bank of this chapter with accounts split over two
PostgreSQL servers (`distlab.engines.postgres.PostgresPair`, participants ``pg0`` and
``pg1``) by the same shard map, and `distlab.txn.coordinator.Coordinator` -- the very core
the simulator and the real processes run -- as the transaction manager. The driver
translates the core's messages into SQL:

| core says | driver does (psycopg 3) |
| --- | --- |
| ``Prepare(t)`` to pg0 | ``PREPARE TRANSACTION 'distlab-t'`` on t's session (fails: no) |
| ``Decision(t, commit)`` | ``COMMIT PREPARED`` / ``ROLLBACK PREPARED 'distlab-t'`` (any session) |
| an unresolved ``distlab-t`` found at recovery | ``Inquire(t)``: what the participant would ask |

Locking is PostgreSQL's own: ``SELECT ... FOR UPDATE`` takes row locks held to the end of the
transaction -- and, after ``PREPARE TRANSACTION``, held by the prepared transaction itself,
with no session left. The coordinator's decisions go to a `DurableLog` (fsync'ed) before any
``COMMIT PREPARED`` is sent, as in every other driver.

`blocked_experiment` is the lecture's point, on a real database: prepare a transfer on both
servers, "kill" the coordinator (drop it before it hears the votes), then watch another
transaction stall on the locked row until ``lock_timeout`` while ``pg_prepared_xacts`` shows
the orphans; restart the coordinator from its log and it resolves them (presumed abort).
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distlab.check.serializability import SerializabilityResult, Txn, check_serializable
from distlab.engines.postgres import PostgresPair
from distlab.storage import DurableLog
from distlab.txn.bank import INITIAL_BALANCE, account, shard_for
from distlab.txn.coordinator import Coordinator
from distlab.txn.messages import Ack, Decision, Inquire, Prepare, Vote

__all__ = [
    "BlockedOnPostgres",
    "PostgresBank",
    "PostgresBankRun",
    "blocked_experiment",
    "run_bank_postgres",
]

GID_PREFIX = "distlab-"


class PostgresBank:
    """Accounts on two PostgreSQL servers; transfers committed with the 2PC coordinator."""

    def __init__(self, pair: PostgresPair, accounts: int = 4, log_dir: Path | None = None) -> None:
        self.pair = pair
        self.accounts = accounts
        self.shards = pair.names
        self.log_path = (log_dir or pair.root) / "coordinator.log"
        self._lock = threading.Lock()  # guards the core and its drain
        self.coordinator = self._boot()
        self._sessions: dict[int, dict[str, Any]] = {}
        self.resolved: list[str] = []  # prepared transactions resolved, in order
        for name in self.shards:
            with pair.connect(name, autocommit=True) as conn:
                conn.execute("DROP TABLE IF EXISTS accounts")
                conn.execute("CREATE TABLE accounts (id text PRIMARY KEY, balance int, writer int)")
                for i in range(accounts):
                    if shard_for(account(i), self.shards) == name:
                        conn.execute(
                            "INSERT INTO accounts VALUES (%s, %s, NULL)",
                            (account(i), INITIAL_BALANCE),
                        )

    def _boot(self) -> Coordinator:
        self.log = DurableLog(self.log_path)
        records = [json.loads(r) for r in self.log.records()]
        return Coordinator.from_log(records, "tm")

    # -- the driver: the core's messages as SQL -------------------------------------------

    def _drain(self) -> None:
        """Handle what the core produced: persist its log records, then act on messages."""
        core = self.coordinator
        while core.has_ready():
            ready = core.take_ready()
            if ready.records:
                self.log.extend(json.dumps(r).encode() for r in ready.records)
                self.log.sync()  # the decision is durable before any participant hears it
            for envelope in ready.messages:
                reply = self._deliver(envelope.dst, envelope.message)
                if reply is not None:
                    core.receive(envelope.dst, reply)

    def _deliver(self, shard: str, message: Any) -> Any:
        gid = f"{GID_PREFIX}{message.txid}"
        if isinstance(message, Prepare):
            session = self._sessions.get(message.txid, {}).get(shard)
            if session is None:
                return Vote(message.txid, False)
            try:
                session.execute(f"PREPARE TRANSACTION '{gid}'")
                return Vote(message.txid, True)
            except Exception:
                return Vote(message.txid, False)
        if isinstance(message, Decision):
            session = self._sessions.get(message.txid, {}).pop(shard, None)
            if (
                session is not None
                and session.info.transaction_status != 0
                and not self._is_prepared(shard, gid)
            ):
                session.rollback()  # never prepared here: just roll back the open transaction
                session.close()
                return Ack(message.txid)
            if session is not None:
                session.close()
            verb = "COMMIT" if message.commit else "ROLLBACK"
            try:
                with self.pair.connect(shard, autocommit=True) as conn:
                    if gid in self._gids(conn):
                        conn.execute(f"{verb} PREPARED '{gid}'")
                        outcome = "committed" if message.commit else "aborted"
                        self.resolved.append(f"{shard}: {gid} {outcome}")
                return Ack(message.txid)
            except Exception:
                return None
        return None

    def _is_prepared(self, shard: str, gid: str) -> bool:
        with self.pair.connect(shard, autocommit=True) as conn:
            return gid in self._gids(conn)

    @staticmethod
    def _gids(conn: Any) -> list[str]:
        return [r[0] for r in conn.execute("SELECT gid FROM pg_prepared_xacts").fetchall()]

    # -- a transfer --------------------------------------------------------------------------

    def transfer(self, src: str, dst: str, amount: int, *, stop_after_prepare: bool = False) -> Txn:
        """One transfer: row locks with ``SELECT ... FOR UPDATE``, then two-phase commit.
        ``stop_after_prepare``: the coordinator dies after the participants prepared."""
        with self._lock:
            txid = self.coordinator.begin()
            self._drain()
        sessions: dict[str, Any] = {}
        self._sessions[txid] = sessions
        ops: list[tuple[Any, ...]] = []
        try:
            for key, delta in ((src, -amount), (dst, amount)):
                shard = shard_for(key, self.shards)
                if shard not in sessions:
                    sessions[shard] = self.pair.connect(shard)
                    sessions[shard].execute("SET lock_timeout = '2s'")
                session = sessions[shard]
                balance, writer = session.execute(
                    "SELECT balance, writer FROM accounts WHERE id = %s FOR UPDATE", (key,)
                ).fetchone()
                ops.append(("r", key, writer))
                session.execute(
                    "UPDATE accounts SET balance = %s, writer = %s WHERE id = %s",
                    (balance + delta, txid, key),
                )
                ops.append(("w", key, txid))
        except Exception:
            with self._lock:
                self.coordinator.abort(txid, list(sessions))
                self._drain()
            return Txn(txid, tuple(ops), "fail")
        if stop_after_prepare:
            for session in sessions.values():
                session.execute(f"PREPARE TRANSACTION '{GID_PREFIX}{txid}'")
                session.close()
            self.crash_coordinator()
            return Txn(txid, tuple(ops), "info")
        with self._lock:
            self.coordinator.commit(txid, list(sessions))
            self._drain()
            state = self.coordinator.outcome(txid)
        return Txn(txid, tuple(ops), "ok" if state == "committed" else "fail")

    # -- the coordinator's crash and recovery -----------------------------------------------

    def crash_coordinator(self) -> None:
        """Drop the coordinator's memory (its log stays on disk)."""
        with self._lock:
            self.log.close()
            self.coordinator = Coordinator("tm")  # a placeholder nobody may use
            self._down = True

    def recover_coordinator(self) -> list[str]:
        """Restart the coordinator from its log; every ``distlab-*`` still prepared at a
        participant is asked about (``Inquire``), and the answer applied. Returns what was
        resolved, e.g. ``["pg0: distlab-3 aborted"]``."""
        with self._lock:
            self.resolved = []
            self.coordinator = self._boot()
            self._down = False
            self._drain()  # decided transactions: the decision is sent again
            for shard in self.shards:
                for gid in self.pair.prepared(shard):
                    if gid.startswith(GID_PREFIX):
                        self.coordinator.receive(shard, Inquire(int(gid[len(GID_PREFIX) :])))
                        self._drain()
            return sorted(self.resolved)

    def balances(self) -> dict[str, tuple[int, int | None]]:
        found = {}
        for shard in self.shards:
            with self.pair.connect(shard, autocommit=True) as conn:
                for key, balance, writer in conn.execute(
                    "SELECT id, balance, writer FROM accounts"
                ):
                    found[key] = (balance, writer)
        return dict(sorted(found.items()))

    def total(self) -> int:
        return sum(balance for balance, _ in self.balances().values())

    def close(self) -> None:
        for sessions in self._sessions.values():
            for session in sessions.values():
                session.close()
        self.log.close()


@dataclass
class PostgresBankRun:
    history: list[Txn]
    total_before: int
    total_after: int
    committed: int
    aborted: int
    check: SerializabilityResult
    seconds: float


def run_bank_postgres(
    bank: PostgresBank, *, seed: int = 0, clients: int = 3, transfers_per_client: int = 10
) -> PostgresBankRun:
    """The same bank workload, threads of transfers, on the PostgreSQL pair."""
    history: list[Txn] = []
    lock = threading.Lock()
    before = bank.total()

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        for _ in range(transfers_per_client):
            src, dst = rng.sample(range(bank.accounts), 2)
            txn = bank.transfer(account(src), account(dst), rng.randint(1, 20))
            with lock:
                history.append(txn)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return PostgresBankRun(
        history=history,
        total_before=before,
        total_after=bank.total(),
        committed=sum(t.status == "ok" for t in history),
        aborted=sum(t.status == "fail" for t in history),
        check=check_serializable(history),
        seconds=time.monotonic() - started,
    )


@dataclass
class BlockedOnPostgres:
    """What the blocking experiment on PostgreSQL showed."""

    txid: int
    prepared_while_down: dict[str, list[str]]
    stalled_s: float
    stalled_error: str
    resolved: list[str] = field(default_factory=list)
    prepared_after: dict[str, list[str]] = field(default_factory=dict)
    update_after_ok: bool = False
    total_after: int = 0


def blocked_experiment(bank: PostgresBank, lock_timeout_ms: int = 1000) -> BlockedOnPostgres:
    """Prepare a transfer on both servers, kill the coordinator, let another transaction
    try the locked row (it waits until ``lock_timeout``), then recover the coordinator."""
    src = account(0)
    dst = next(
        account(i)
        for i in range(1, bank.accounts)
        if shard_for(account(i), bank.shards) != shard_for(src, bank.shards)
    )
    txn = bank.transfer(src, dst, 10, stop_after_prepare=True)
    prepared = {shard: bank.pair.prepared(shard) for shard in bank.shards}
    shard = shard_for(src, bank.shards)
    started = time.monotonic()
    error = ""
    with bank.pair.connect(shard) as other:
        other.execute(f"SET lock_timeout = '{int(lock_timeout_ms)}ms'")
        try:
            other.execute("UPDATE accounts SET balance = balance WHERE id = %s", (src,))
        except Exception as failure:
            error = type(failure).__name__
        other.rollback()
    stalled = time.monotonic() - started
    resolved = bank.recover_coordinator()
    after = {s: bank.pair.prepared(s) for s in bank.shards}
    with bank.pair.connect(shard, autocommit=True) as again:
        again.execute("SET lock_timeout = '5s'")
        again.execute("UPDATE accounts SET balance = balance WHERE id = %s", (src,))
    return BlockedOnPostgres(
        txid=int(txn.id),  # type: ignore[call-overload]
        prepared_while_down=prepared,
        stalled_s=stalled,
        stalled_error=error,
        resolved=resolved,
        prepared_after=after,
        update_after_ok=True,
        total_after=bank.total(),
    )
