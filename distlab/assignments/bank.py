"""Assignment 1 (threads and locks): the checks for a learner's thread-safe bank.

What it is: the learner writes a class ``Bank(ledger)`` with ``transfer(source,
target, amount) -> bool`` (False, and nothing moved, if the source holds less
than ``amount``) and ``total() -> int`` (the sum of all balances, as one
consistent snapshot). `check_bank(Bank)` returns a `Verdict` over five checks:
sequential behaviour, the total kept under many thread interleavings, a
consistent ``total()`` while transfers run, no potential deadlock with
lock-order checking on, and transfers on different accounts not waiting for
each other (one lock per account, not one lock for the whole bank).

Interleavings: the bank keeps its balances in a `Ledger` given by the checker.
Each read and write of the ledger yields the interpreter to other threads
(``time.sleep(0)``) and the checker shortens Python's thread switch interval, so
an unprotected read-modify-write is interrupted in the middle on almost every
run. A correct bank prints the same verdict on every run; a racy one fails with
near certainty, not by luck of timing.

What it must never do: hang. Every thread is joined with a deadline; threads
stuck in a learner's deadlock are daemons, reported as a failure.
Where it fits: notebooks/assignments/source/01_bank.ipynb calls `check_bank`;
`distlab.sync` provides the Mutex and the lock-order checking.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Protocol

from distlab.assignments.verdict import Verdict, run_checks
from distlab.sync import PotentialDeadlock, lock_order_checking

__all__ = ["BankLike", "Ledger", "check_bank"]

JOIN_TIMEOUT_S = 15.0
BLOCK_WAIT_S = 5.0


class BankLike(Protocol):
    """What the learner's Bank must offer."""

    def transfer(self, source: int, target: int, amount: int) -> bool: ...

    def total(self) -> int: ...


class Ledger:
    """The balances, indexed by account number; every access lets other threads run.

    ``on_read(account)`` is a hook for the checker (it may block a thread in the
    middle of a transfer on purpose).
    """

    def __init__(self, balances: list[int], on_read: Callable[[int], None] | None = None) -> None:
        self._values = list(balances)
        self._on_read = on_read

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, account: int) -> int:
        value = self._values[account]
        if self._on_read is not None:
            self._on_read(account)
        time.sleep(0)  # another thread may run between this read and the caller's write
        return value

    def __setitem__(self, account: int, value: int) -> None:
        time.sleep(0)
        self._values[account] = value

    def snapshot(self) -> list[int]:
        """The balances right now, without yielding (for the checker only)."""
        return list(self._values)


@contextmanager
def _frequent_switches() -> Any:
    """Switch threads every 10 microseconds instead of every 5 ms, with lock-order checking on.

    Checking is on for every threaded check, so locks taken in opposite orders
    raise `PotentialDeadlock` at once instead of deadlocking for real.
    """
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        with lock_order_checking():
            yield
    finally:
        sys.setswitchinterval(before)


def _run_threads(targets: list[Callable[[], None]]) -> None:
    """Run the targets in threads started together; re-raise the first error; fail if stuck."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def body(target: Callable[[], None]) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT_S)
            target()
        except Exception as error:  # reported to the checker's thread below
            errors.append(error)

    threads = [
        threading.Thread(target=body, args=(target,), daemon=True, name=f"bank-check-{i}")
        for i, target in enumerate(targets)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + JOIN_TIMEOUT_S
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        raise AssertionError(
            f"threads still running after {JOIN_TIMEOUT_S:.0f} s: they wait for each other "
            "(a deadlock)"
        )
    if errors:
        error = errors[0]
        if isinstance(error, PotentialDeadlock):
            raise AssertionError(_lock_order_reason(error)) from error
        raise error


def _lock_order_reason(error: PotentialDeadlock) -> str:
    """What lock-order checking saw, in the learner's terms (which locks, which orders).

    It does not say "two transfers": the other order may come from total() too.
    """
    held, wanted = error.holding, error.acquiring
    return (
        f"PotentialDeadlock: a thread holding {held!r} asked for {wanted!r}, but elsewhere "
        f"{wanted!r} was taken first and then {held!r}; take the locks in one global order "
        "(e.g. lowest account first) in transfer() and total() alike"
    )


def _sequential(bank_cls: Callable[[Ledger], BankLike]) -> None:
    ledger = Ledger([100, 50, 0])
    bank = bank_cls(ledger)
    assert bank.total() == 150, f"total() of [100, 50, 0] is 150, got {bank.total()}"
    assert bank.transfer(0, 1, 30) is True, "transfer(0, 1, 30) with 100 in account 0 failed"
    assert ledger.snapshot() == [70, 80, 0], f"after transfer(0, 1, 30): {ledger.snapshot()}"
    assert bank.transfer(2, 0, 1) is False, "transfer(2, 0, 1) from an empty account succeeded"
    assert bank.transfer(1, 2, 80) is True, "transfer(1, 2, 80) of a whole balance failed"
    assert ledger.snapshot() == [70, 0, 80], f"after transfer(1, 2, 80): {ledger.snapshot()}"
    assert bank.total() == 150, f"total() should still be 150, got {bank.total()}"


def _random_transfers(bank: BankLike, accounts: int, seed: int, count: int) -> Callable[[], None]:
    def run() -> None:
        rng = random.Random(seed)
        for _ in range(count):
            source, target = rng.sample(range(accounts), 2)
            bank.transfer(source, target, rng.randint(1, 60))

    return run


def _conserved(bank_cls: Callable[[Ledger], BankLike], rounds: int = 12) -> None:
    with _frequent_switches():
        for round_number in range(rounds):
            ledger = Ledger([100] * 5)
            bank = bank_cls(ledger)
            workers = [_random_transfers(bank, 5, round_number * 10 + i, 150) for i in range(4)]
            _run_threads(workers)
            balances = ledger.snapshot()
            assert sum(balances) == 500, (
                f"round {round_number}: the total became {sum(balances)}, not 500 "
                "(two transfers overwrote each other)"
            )
            assert min(balances) >= 0, f"round {round_number}: an overdraft: {balances}"


def _audit_round(bank_cls: Callable[[Ledger], BankLike], round_number: int) -> None:
    ledger = Ledger([100] * 4)
    bank = bank_cls(ledger)
    seen: list[int] = []
    stop = threading.Event()

    def auditor() -> None:
        while True:  # at least once, even if the movers are already done
            seen.append(bank.total())
            if stop.is_set():
                return

    def movers() -> None:
        try:
            _run_threads([_random_transfers(bank, 4, round_number * 7 + i, 100) for i in range(3)])
        finally:
            stop.set()

    _run_threads([auditor, movers])
    wrong = [value for value in seen if value != 400]
    assert not wrong, (
        f"round {round_number}: total() returned {wrong[0]} while money moved "
        f"({len(wrong)} of {len(seen)} audits wrong; it must always be 400)"
    )


def _consistent_total(bank_cls: Callable[[Ledger], BankLike], rounds: int = 6) -> None:
    with _frequent_switches():
        for round_number in range(rounds):
            _audit_round(bank_cls, round_number)


def _no_deadlock(bank_cls: Callable[[Ledger], BankLike]) -> None:
    with _frequent_switches():
        ledger = Ledger([1000] * 4)
        bank = bank_cls(ledger)
        pairs = [(a, b) for a in range(4) for b in range(4) if a != b]

        def both_ways(offset: int) -> Callable[[], None]:
            def run() -> None:
                for index in range(len(pairs) * 3):
                    source, target = pairs[(index + offset) % len(pairs)]
                    bank.transfer(source, target, 1)
                    bank.total()

            return run

        # Only this claim's reason can fail it: a potential (or real) deadlock. Money lost
        # to a race is the business of the checks named after it, not of this one.
        _run_threads([both_ways(offset) for offset in range(4)])


def _disjoint_in_parallel(bank_cls: Callable[[Ledger], BankLike]) -> None:
    inside = threading.Event()
    release = threading.Event()

    def on_read(account: int) -> None:
        # Hold the transfer 2 -> 3 in the middle (its locks taken) until released.
        if account == 2 and threading.current_thread().name == "bank-slow":
            inside.set()
            release.wait(JOIN_TIMEOUT_S)

    ledger = Ledger([100] * 4, on_read=on_read)
    bank = bank_cls(ledger)
    slow = threading.Thread(target=bank.transfer, args=(2, 3, 10), name="bank-slow", daemon=True)
    fast_done = threading.Event()

    def fast() -> None:
        bank.transfer(0, 1, 10)
        fast_done.set()

    slow.start()
    try:
        if not inside.wait(BLOCK_WAIT_S):
            raise AssertionError("transfer(2, 3, 10) never read account 2's balance")
        threading.Thread(target=fast, name="bank-fast", daemon=True).start()
        finished = fast_done.wait(BLOCK_WAIT_S)
    finally:
        release.set()
        slow.join(JOIN_TIMEOUT_S)
    assert finished, (
        "transfer(0, 1) waited for an unrelated transfer(2, 3): use one lock per account, "
        "not one lock for the whole bank"
    )
    assert ledger.snapshot() == [90, 110, 90, 110], f"balances: {ledger.snapshot()}"


def check_bank(bank_cls: Callable[[Ledger], BankLike]) -> Verdict:
    """Run all five checks against ``bank_cls`` (called as ``bank_cls(ledger)``)."""
    return run_checks(
        "Assignment 1: a thread-safe bank",
        [
            (
                "one thread: transfers move money and refuse overdrafts",
                lambda: _sequential(bank_cls),
            ),
            ("lock-order checking: no potential deadlock", lambda: _no_deadlock(bank_cls)),
            (
                "total() is a consistent snapshot while money moves",
                lambda: _consistent_total(bank_cls),
            ),
            ("4 threads x 12 rounds: the total stays 500", lambda: _conserved(bank_cls)),
            (
                "transfers on different accounts do not wait for each other",
                lambda: _disjoint_in_parallel(bank_cls),
            ),
        ],
    )
