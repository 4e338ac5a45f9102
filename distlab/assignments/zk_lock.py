"""Assignment 9: a lock without a herd effect, on the ZooKeeper-like service (simulated).

What it is: the learner writes a lock class with kazoo's recipe shape --
``MyLock(client, path, identifier)``, ``acquire() -> token`` and ``release()`` -- using only
the client's kazoo API (``create`` with ``ephemeral``/``sequence``, ``get_children``,
``exists`` with a watch, ``delete``, ``client.handler.event_object()``). `check_zk_lock`
runs it with seeded clients in the simulator (`distlab.coord.simulated`) and returns a
`Verdict`: acquisitions in turn, never two holders (also while servers crash and restart),
the lock passing on when a holder's session expires, at most one watch notification per
acquisition when ten clients queue at once (no herd, 羊群效应), and fencing tokens that grow.

What it must never do: use the wall clock or unseeded randomness: the same lock class gets
the same verdict on every machine.
Where it fits: notebooks/assignments/source/09_zk_lock.ipynb; `distlab.coord.recipes.Lock`
is the course's own solution (chapter 11).
"""

from __future__ import annotations

import contextlib
import random
from typing import Any

from kazoo.exceptions import KazooException

from distlab.assignments.verdict import Verdict, run_checks
from distlab.coord.simulated import SimClients, SimCoordClient, coord_world
from distlab.core import derive_seed

__all__ = ["SEEDS", "check_zk_lock"]

SEEDS = (1, 2, 3)
_PATH = "/locks/assignment"


class _Referee:
    """Counts holders at once, acquisitions and their tokens, in virtual time."""

    def __init__(self) -> None:
        self.holders: set[str] = set()
        self.overlaps: list[str] = []
        self.tokens: list[int] = []

    def enter(self, name: str, token: Any, now: int) -> None:
        if self.holders:
            self.overlaps.append(
                f"t={now}: {name} got the lock while {sorted(self.holders)} held it"
            )
        self.holders.add(name)
        self.tokens.append(token)

    def leave(self, name: str) -> None:
        self.holders.discard(name)


def _world(seed: int) -> tuple[Any, SimClients]:
    world = coord_world(seed)
    world.check_one_leader()
    return world, SimClients(world)


def _rounds(lock_cls: type, seed: int, *, clients: int, rounds: int, crashes: bool) -> _Referee:
    world, runner = _world(seed)
    referee = _Referee()
    served: dict[str, int] = {}

    def contend(client: SimCoordClient) -> None:
        client.start()
        lock = lock_cls(client, _PATH, client.name)
        for _ in range(rounds):
            try:
                token = lock.acquire()
            except KazooException:
                continue  # a server went away mid-call; the next round tries again
            referee.enter(client.name, token, world.now)
            served[client.name] = served.get(client.name, 0) + 1
            runner.wait_until(lambda: False, 3)  # the critical section: 30 ms
            referee.leave(client.name)
            with contextlib.suppress(KazooException):
                lock.release()

    for number in range(clients):
        client = runner.client(server=f"n{number % 3}", client_id=f"c{number}", timeout=2.0)
        runner.spawn(client.name, contend, client)
    if crashes:
        rng = random.Random(derive_seed(seed, "zk-lock-crashes"))
        for _ in range(3):
            runner.run(rng.randint(20, 60))
            victim = rng.choice(world.node_ids)
            world.crash(victim)
            runner.run(50)
            world.restart(victim)
    finished = runner.run(40_000)
    assert not referee.overlaps, f"seed {seed}: {referee.overlaps[0]}"
    assert finished, f"seed {seed}: some clients never got the lock (a lost wake-up?)"
    least = 1 if crashes else rounds
    short = [name for name in (f"c{i}" for i in range(clients)) if served.get(name, 0) < least]
    assert not short, f"seed {seed}: {short[0]} got the lock {served.get(short[0], 0)} times"
    return referee


def _in_turn(lock_cls: type) -> None:
    _, runner = _world(7)
    first = runner.client(server="n0", client_id="first")
    second = runner.client(server="n1", client_id="second")
    log: list[str] = []
    first_holds = [False]

    def one() -> None:
        first.start()
        lock = lock_cls(first, _PATH, "first")
        lock.acquire()
        first_holds[0] = True
        log.append("first acquired")
        runner.wait_until(lambda: False, 50)
        log.append("first releases")
        lock.release()

    def two() -> None:
        second.start()
        runner.wait_until(lambda: first_holds[0], 10**6)
        lock_cls(second, _PATH, "second").acquire()
        log.append("second acquired")

    runner.spawn("first", one)
    runner.spawn("second", two)
    assert runner.run(10_000), "acquire() or release() never returned"
    assert log == ["first acquired", "first releases", "second acquired"], (
        f"expected the second client to wait for the first's release, saw {log}"
    )


def _no_two_holders(lock_cls: type) -> None:
    for seed in SEEDS:
        _rounds(lock_cls, seed, clients=6, rounds=3, crashes=False)


def _under_crashes(lock_cls: type) -> None:
    for seed in SEEDS:
        _rounds(lock_cls, seed, clients=4, rounds=2, crashes=True)


def _expiry_passes_the_lock(lock_cls: type) -> None:
    world, runner = _world(11)
    holder = runner.client(server="n0", client_id="holder", timeout=1.0)
    waiter = runner.client(server="n1", client_id="waiter", timeout=5.0)
    got = []

    def hold() -> None:
        holder.start()
        lock_cls(holder, _PATH, "holder").acquire()
        holder.freeze()  # a long pause while holding the lock: the session will expire

    def wait() -> None:
        waiter.start()
        runner.wait_until(lambda: holder.frozen, 10**6)
        lock_cls(waiter, _PATH, "waiter").acquire()
        got.append(world.now)

    runner.spawn("holder", hold)
    runner.spawn("waiter", wait)
    runner.run(1500, until=lambda: bool(got))
    assert got, (
        "the holder's session expired but the waiter never got the lock "
        "(are the contenders' znodes ephemeral?)"
    )


def _no_herd(lock_cls: type) -> None:
    world, runner = _world(5)
    count = 10
    locks: list[Any] = []
    clients = [
        runner.client(server=f"n{i % 3}", client_id=f"c{i}", timeout=5.0) for i in range(count)
    ]
    referee = _Referee()

    def contend(client: SimCoordClient) -> None:
        client.start()
        lock = lock_cls(client, _PATH, client.name)
        locks.append(lock)
        runner.wait_until(lambda: len(locks) == count, 10**6)  # everyone queues at once
        token = lock.acquire()
        referee.enter(client.name, token, world.now)
        runner.wait_until(lambda: False, 5)
        referee.leave(client.name)
        lock.release()

    for client in clients:
        runner.spawn(client.name, contend, client)
    assert runner.run(50_000), "not every client got the lock"
    notifications = sum(client.notifications for client in clients)
    assert notifications <= count, (
        f"{notifications} watch notifications for {count} acquisitions: every release wakes "
        "more than one waiter (a herd); watch only the znode just before yours"
    )


def _tokens_grow(lock_cls: type) -> None:
    referee = _rounds(lock_cls, 4, clients=3, rounds=3, crashes=False)
    assert all(isinstance(t, int) for t in referee.tokens), "acquire() must return an int token"
    pairs = list(zip(referee.tokens, referee.tokens[1:], strict=False))
    assert all(a < b for a, b in pairs), f"tokens do not grow: {referee.tokens}"


def check_zk_lock(lock_cls: type) -> Verdict:
    """Run assignment 9's checks against ``lock_cls``."""
    return run_checks(
        "Assignment 9: a lock without a herd effect (simulated, seeds 1-3)",
        [
            ("two clients: the second waits for the first's release", lambda: _in_turn(lock_cls)),
            ("6 clients, 3 rounds each: never two holders", lambda: _no_two_holders(lock_cls)),
            ("servers crash and restart: never two holders", lambda: _under_crashes(lock_cls)),
            (
                "a holder's session expires: the lock passes on",
                lambda: _expiry_passes_the_lock(lock_cls),
            ),
            (
                "10 clients queue at once: at most one notification per acquisition",
                lambda: _no_herd(lock_cls),
            ),
            ("fencing tokens grow with every acquisition", lambda: _tokens_grow(lock_cls)),
        ],
    )
