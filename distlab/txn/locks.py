"""Strict two-phase locking (两阶段锁) for one shard: shared and exclusive locks per key.

What it is: `LockTable`, the lock manager of one shard. A transaction takes a **shared** lock
to read a key and an **exclusive** lock to write it, and keeps every lock until it commits or
aborts (*strict* 2PL): no other transaction can see or overwrite what it touched before its
outcome is decided, which makes the schedule serializable (可串行化).

Deadlock (死锁), the price of waiting for locks, is prevented with **wait-die**: transaction
ids grow with age (the coordinator hands them out in order), and when a lock is held by
someone else, an *older* requester (smaller id) waits, a *younger* one dies (aborts, and its
client retries). Waits only ever go from older to younger, so no cycle of waits can form.
Why wait-die and not wound-wait: wound-wait aborts the *holder*, and a holder may already
be prepared in two-phase commit, when it is no longer allowed to abort; wait-die only ever
aborts the requester, which has not voted yet.

The teaching switch ``early_release=True`` releases shared locks as soon as the read is
done (no longer two-phase): lost updates become possible, and the serializability checker
names them (G2).

What it must never do: grant an exclusive lock beside any other lock on the same key.
Where it fits: inside `distlab.txn.shard.ShardCore`; lecture 2's locks, now per key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Grant", "LockTable", "Mode"]

Mode = Literal["S", "X"]
Grant = Literal["granted", "wait", "die"]


@dataclass
class _KeyLock:
    shared: set[int] = field(default_factory=set)
    exclusive: int | None = None


class LockTable:
    """Locks per key; see the module docstring. Pure: a dict of sets."""

    def __init__(self) -> None:
        self.locks: dict[str, _KeyLock] = {}
        self.waits = 0
        self.deaths = 0

    def acquire(self, txid: int, key: str, mode: Mode) -> Grant:
        """Try to lock ``key`` for ``txid``: granted, wait (older than a holder) or die."""
        lock = self.locks.setdefault(key, _KeyLock())
        holders = set(lock.shared)
        if lock.exclusive is not None:
            holders.add(lock.exclusive)
        others = holders - {txid}
        if mode == "S" and (lock.exclusive in (None, txid)):
            lock.shared.add(txid)
            return "granted"
        if mode == "X" and not others:
            lock.exclusive = txid
            lock.shared.discard(txid)
            return "granted"
        if txid < min(others):  # older than every holder: waiting is safe
            self.waits += 1
            return "wait"
        self.deaths += 1
        return "die"

    def release(self, txid: int, key: str, mode: Mode | None = None) -> None:
        """Drop ``txid``'s lock on ``key`` (``mode`` None: both kinds)."""
        lock = self.locks.get(key)
        if lock is None:
            return
        if mode in (None, "S"):
            lock.shared.discard(txid)
        if mode in (None, "X") and lock.exclusive == txid:
            lock.exclusive = None
        if not lock.shared and lock.exclusive is None:
            del self.locks[key]

    def release_all(self, txid: int) -> None:
        for key in list(self.locks):
            self.release(txid, key)

    def held(self) -> dict[str, str]:
        """The table for a picture: ``{"a": "X by 7", "b": "S by 3,5"}``."""
        shown = {}
        for key, lock in sorted(self.locks.items()):
            if lock.exclusive is not None:
                shown[key] = f"X by {lock.exclusive}"
            else:
                shown[key] = "S by " + ",".join(map(str, sorted(lock.shared)))
        return shown
