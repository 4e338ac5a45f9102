"""The bank: transfers between accounts on different shards, the workload of this chapter.

What it is: the shard map (`shard_for`: which shard holds a key, the same for every client)
and `transfer`, one bank transfer written once as a *generator* over a `Backend`, so the
same code runs against the simulator (`distlab.txn.simulated`, clients interleaved tick by
tick), real processes (`distlab.txn.node`) and PostgreSQL (`distlab.txn.postgres`).

A transfer reads both accounts, writes both (the money moved), and asks the coordinator to
commit. Each stored balance carries the id of the transaction that wrote it: values are
unique, so the serializability checker (`distlab.check.serializability`) can tell which
write every read saw. Each finished transfer is one `Txn` of the history: ``ok``
(committed), ``fail`` (definitely aborted) or ``info`` (unknown: may have committed).

The generator yields whenever it must wait (a lock held by a younger transaction, the
coordinator's decision not known yet); the driver decides what waiting means (one tick of
virtual time, or a short pause of real time).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Generator
from typing import Any, Protocol

from distlab.check.serializability import Txn

__all__ = ["INITIAL_BALANCE", "Backend", "account", "balance_of", "shard_for", "transfer"]

INITIAL_BALANCE = 100


def shard_for(key: str, shards: list[str] | tuple[str, ...]) -> str:
    """The shard map: a stable hash of the key picks the shard (a client needs no lookup)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return shards[int.from_bytes(digest, "big") % len(shards)]


def account(i: int) -> str:
    return f"acct{i}"


def balance_of(value: Any) -> tuple[int, int | None]:
    """A stored value ``[balance, writer]``, or None (never written): balance and writer."""
    if value is None:
        return INITIAL_BALANCE, None
    return int(value[0]), value[1]


class Backend(Protocol):
    """What a transfer needs; every call may raise `ConnectionError` (node down)."""

    shards: tuple[str, ...]

    def begin(self) -> int | None: ...
    def read(self, shard: str, txid: int, key: str, fresh: bool) -> tuple[str, Any]: ...
    def write(
        self, shard: str, txid: int, key: str, value: Any, fresh: bool
    ) -> tuple[str, Any]: ...
    def abort(self, txid: int, participants: list[str]) -> None: ...
    def commit(self, txid: int, participants: list[str]) -> None: ...
    def outcome(self, txid: int) -> str | None: ...


def transfer(
    backend: Backend, src: str, dst: str, amount: int, max_waits: int = 2000
) -> Generator[None, None, Txn | None]:
    """One transfer; returns its `Txn` (None: it never began, the coordinator was down)."""
    try:
        txid = backend.begin()
    except ConnectionError:
        return None
    if txid is None:
        return None
    ops: list[tuple[Any, ...]] = []
    touched: list[str] = []
    balances: dict[str, int] = {}
    waits = 0

    def give_up() -> Txn:
        with contextlib.suppress(Exception):
            backend.abort(txid, touched)
        return Txn(txid, tuple(ops), "fail")

    steps = [("r", src), ("r", dst), ("w", src), ("w", dst)]
    for kind, key in steps:
        shard = shard_for(key, backend.shards)
        fresh = shard not in touched
        while True:
            try:
                if kind == "r":
                    answer, value = backend.read(shard, txid, key, fresh)
                else:
                    delta = -amount if key == src else amount
                    value = [balances[key] + delta, txid]
                    answer, _ = backend.write(shard, txid, key, value, fresh)
            except ConnectionError:
                answer = "die"
            if answer != "wait":
                break
            waits += 1
            if waits > max_waits:
                answer = "die"
                break
            yield
        if answer == "die":
            return give_up()
        if shard not in touched:
            touched.append(shard)
        if kind == "r":
            balances[key], writer = balance_of(value)
            ops.append(("r", key, writer))
        else:
            ops.append(("w", key, txid))
        yield  # one operation per round trip: other clients' operations interleave here
    try:
        backend.commit(txid, touched)
    except ConnectionError:
        return Txn(txid, tuple(ops), "info")  # may or may not have reached the coordinator
    except RuntimeError:  # closed: the coordinator restarted and presumed abort
        return Txn(txid, tuple(ops), "fail")
    for _ in range(max_waits):
        try:
            state = backend.outcome(txid)
        except (ConnectionError, KeyError):
            state = None
        if state == "committed":
            return Txn(txid, tuple(ops), "ok")
        if state == "aborted":
            return Txn(txid, tuple(ops), "fail")
        yield
    return Txn(txid, tuple(ops), "info")
