"""Race demos: lost updates, a broken bank invariant, and a deadlock caught early.

Three experiments for chapter 02, each in a broken and a fixed version:

1. `race_counter`: N threads each add 1 to a shared counter many times.
   Without a lock, updates are lost; with a `Mutex`, none are.
2. `bank_transfers`: threads move money between accounts. Without locks the
   total is not conserved; with one Mutex per account (always taken in the same
   order) it is.
3. `opposite_order_transfers`: two transfers take two account locks in opposite
   orders. Without checking they deadlock (detected here by a timeout, so nothing
   hangs); with lock-order checking the second one raises `PotentialDeadlock`.

Why the explicit ``time.sleep(0)``: on CPython 3.11 a plain ``counter += 1``
rarely loses updates, because the GIL switches threads only every 5 ms and the
read-modify-write is a few bytecodes long, so it is almost never interrupted in
the middle. Real programs do work between the read and the write (a dict
lookup, a log line, a network call); ``time.sleep(0)`` stands in for that work
by releasing the GIL at exactly the worst moment, which makes the race happen
reliably instead of once in a blue moon. The bug is the same either way: the
read and the write are not one atomic step.

What this module must never do: hang. Every wait has a timeout, and threads are
joined with a deadline. It keeps no state between calls.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from distlab.sync import (
    LockTimeout,
    Mutex,
    MutexStatistics,
    PotentialDeadlock,
    lock_order_checking,
)

__all__ = [
    "BankResult",
    "CounterResult",
    "DeadlockOutcome",
    "bank_transfers",
    "lost_updates_sweep",
    "opposite_order_transfers",
    "race_counter",
]

JOIN_TIMEOUT_S = 30.0


def _run_threads(target: Callable[[int], None], count: int) -> None:
    """Start ``count`` threads on ``target(i)`` behind a barrier, join them with a deadline."""
    barrier = threading.Barrier(count)

    def body(index: int) -> None:
        barrier.wait(timeout=JOIN_TIMEOUT_S)  # start together: maximise overlap
        target(index)

    threads = [
        threading.Thread(target=body, args=(i,), name=f"demo-{i}", daemon=True)
        for i in range(count)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise RuntimeError(f"demo threads still running after {JOIN_TIMEOUT_S} s")


# --- 1. lost updates ----------------------------------------------------------------------


@dataclass(frozen=True)
class CounterResult:
    """One run of the counter race: what the total should be and what it was."""

    threads: int
    increments_per_thread: int
    locked: bool
    expected: int
    actual: int
    mutex_statistics: MutexStatistics | None

    @property
    def lost_updates(self) -> int:
        """Increments that vanished because two threads overwrote each other."""
        return self.expected - self.actual


class _Counter:
    def __init__(self) -> None:
        self.value = 0


def race_counter(threads: int = 8, increments: int = 1000, *, lock: bool = False) -> CounterResult:
    """Have ``threads`` threads each increment one shared counter ``increments`` times.

    With ``lock=False`` the increment is read, yield, write: updates get lost.
    With ``lock=True`` the same three steps run under a `Mutex`: none are lost.
    """
    if threads < 1 or increments < 0:
        raise ValueError("need threads >= 1 and increments >= 0")
    counter = _Counter()
    mutex = Mutex("counter")

    def increment_unlocked(_: int) -> None:
        for _ in range(increments):
            value = counter.value  # read
            time.sleep(0)  # "some work": lets another thread run in between
            counter.value = value + 1  # write back a value that may be stale

    def increment_locked(_: int) -> None:
        for _ in range(increments):
            with mutex:  # read and write now form one atomic step
                value = counter.value
                time.sleep(0)
                counter.value = value + 1

    _run_threads(increment_locked if lock else increment_unlocked, threads)
    return CounterResult(
        threads=threads,
        increments_per_thread=increments,
        locked=lock,
        expected=threads * increments,
        actual=counter.value,
        mutex_statistics=mutex.statistics() if lock else None,
    )


def lost_updates_sweep(
    thread_counts: Sequence[int] = (1, 2, 4, 8), increments: int = 500
) -> list[tuple[CounterResult, CounterResult]]:
    """For each thread count, one run without and one with the Mutex: (unlocked, locked)."""
    return [
        (race_counter(n, increments, lock=False), race_counter(n, increments, lock=True))
        for n in thread_counts
    ]


# --- 2. the bank invariant ----------------------------------------------------------------


@dataclass(frozen=True)
class BankResult:
    """One run of concurrent transfers: total money before and after."""

    accounts: int
    transfers: int
    locked: bool
    expected_total: int
    actual_total: int

    @property
    def conserved(self) -> bool:
        """The invariant: transfers move money, they never create or destroy it."""
        return self.expected_total == self.actual_total


def bank_transfers(
    accounts: int = 4,
    initial_balance: int = 1000,
    threads: int = 4,
    transfers_per_thread: int = 300,
    *,
    lock: bool,
    seed: int = 0,
) -> BankResult:
    """Move random amounts between random accounts from several threads at once.

    Without locks each transfer reads both balances, yields, then writes both:
    two transfers touching one account overwrite each other and money appears
    or vanishes. With ``lock=True`` each account has a Mutex, and a transfer
    takes both in account-number order, which also rules out deadlock.
    """
    if accounts < 2:
        raise ValueError("need at least two accounts to transfer between")
    balances = [initial_balance] * accounts
    mutexes = [Mutex(f"account {i}") for i in range(accounts)]

    def transfer(source: int, target: int, amount: int) -> None:
        from_balance = balances[source]
        to_balance = balances[target]
        time.sleep(0)  # the bank's "work" between reading and writing
        balances[source] = from_balance - amount
        balances[target] = to_balance + amount

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        for _ in range(transfers_per_thread):
            source, target = rng.sample(range(accounts), 2)
            amount = rng.randint(1, 50)
            if not lock:
                transfer(source, target, amount)
                continue
            first, second = sorted((source, target))  # one global order: no deadlock
            with mutexes[first], mutexes[second]:
                transfer(source, target, amount)

    _run_threads(worker, threads)
    return BankResult(
        accounts=accounts,
        transfers=threads * transfers_per_thread,
        locked=lock,
        expected_total=accounts * initial_balance,
        actual_total=sum(balances),
    )


# --- 3. deadlock, and catching it early -----------------------------------------------------


@dataclass(frozen=True)
class DeadlockOutcome:
    """What happened when two transfers took two locks in opposite orders.

    ``deadlocked``: both threads got stuck (seen as lock timeouts). ``caught``:
    lock-order checking raised `PotentialDeadlock` first; ``error`` is it.
    """

    checking: bool
    deadlocked: bool
    caught: bool
    error: PotentialDeadlock | None
    timeouts: int

    @property
    def lock_names(self) -> tuple[str, ...]:
        """The two locks involved, sorted (stable across runs, unlike who raised)."""
        return tuple(sorted(self.error.lock_names)) if self.error else ()


def opposite_order_transfers(*, checking: bool, timeout: float = 1.0) -> DeadlockOutcome:
    """Transfer A->B and B->A at the same moment, each locking source then target.

    A barrier makes both threads take their first lock before either takes its
    second: the worst interleaving, every time. Without checking, both wait for
    each other until their ``timeout`` expires (a real program would hang
    forever). With ``checking=True``, whichever thread asks second is told
    `PotentialDeadlock` instead of blocking, backs off, and the other finishes.
    """
    account_a, account_b = Mutex("account A"), Mutex("account B")
    both_hold_first = threading.Barrier(2)
    errors: list[PotentialDeadlock] = []
    timeouts: list[str] = []
    record = threading.Lock()

    def transfer(source: Mutex, target: Mutex) -> None:
        try:
            with source.hold(timeout=timeout):
                both_hold_first.wait(timeout=JOIN_TIMEOUT_S)
                with target.hold(timeout=timeout):
                    pass  # move the money
        except PotentialDeadlock as error:
            with record:
                errors.append(error)
        except LockTimeout as error:
            with record:
                timeouts.append(str(error))

    def run() -> None:
        first = threading.Thread(target=transfer, args=(account_a, account_b), daemon=True)
        second = threading.Thread(target=transfer, args=(account_b, account_a), daemon=True)
        first.start()
        second.start()
        first.join(JOIN_TIMEOUT_S)
        second.join(JOIN_TIMEOUT_S)

    if checking:
        with lock_order_checking():
            run()
    else:
        run()
    return DeadlockOutcome(
        checking=checking,
        deadlocked=len(timeouts) > 0,
        caught=bool(errors),
        error=errors[0] if errors else None,
        timeouts=len(timeouts),
    )
