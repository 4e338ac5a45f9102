"""The recipes as experiments on *any* kazoo-shaped clients: distlab's service or a real ZooKeeper.

Each function takes a list of started clients (one per thread; `distlab.coord.CoordClient`
sessions from ``cluster.client(server=...)``, or ``kazoo.client.KazooClient``s from
`distlab.engines.zookeeper.ZooKeeperEnsemble.client`) and runs threads on real time:

- `counter_race`: every client adds to one `Counter`; the final value must be the number of
  adds (conditional writes lose nothing), and ``retries`` counts the races lost.
- `lock_rounds`: every client takes a lock a few times and writes to a `FencedResource`; an
  optional ``fault`` (crash the leader, say) runs meanwhile. Problems: two holders at once.
- `herd_count`: every client queues on one lock at once; watch notifications in all.
- `recorded_workload`: sets, gets and syncs recorded in a `CoordHistory` (through
  `Recorded`, which reads the zxid each answer carried from the client's ``last_zxid``), for
  `distlab.check.check_coordination`.

What it must never do: sleep to synchronise (threads meet on a barrier and on the lock).
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kazoo.exceptions import KazooException, NodeExistsError, NoNodeError

from distlab.check.coordination import CoordHistory, check_fenced_writes
from distlab.coord.recipes import Counter, FencedResource, Lock, LockLost, NaiveLock

__all__ = ["Recorded", "counter_race", "herd_count", "lock_rounds", "recorded_workload"]


def _run_threads(target: Callable[[int, Any], None], clients: list[Any], timeout_s: float) -> None:
    errors: list[BaseException] = []

    def body(number: int, client: Any) -> None:
        try:
            target(number, client)
        except BaseException as error:  # re-raised in the caller's thread below
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i, c)) for i, c in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    if any(thread.is_alive() for thread in threads):
        raise TimeoutError(f"clients still running after {timeout_s} s")
    if errors:
        raise errors[0]


@dataclass(frozen=True)
class CounterResult:
    value: int
    expected: int
    retries: int


def counter_race(clients: list[Any], path: str = "/counter", adds: int = 10) -> CounterResult:
    """Every client adds 1 ``adds`` times to one counter (conditional set with retries)."""
    Counter(clients[0], path)
    counters = [Counter(client, path) for client in clients]
    clients[0].sync(path)
    start = counters[0].value

    def add(number: int, client: Any) -> None:
        for _ in range(adds):
            counters[number].add()

    _run_threads(add, clients, 120.0)
    clients[0].sync(path)  # client 0's server may not have applied the others' last adds yet
    final = counters[0].value
    return CounterResult(final - start, adds * len(clients), sum(c.retries for c in counters))


def lock_rounds(
    clients: list[Any],
    path: str = "/locks/rounds",
    rounds: int = 3,
    fault: Callable[[], None] | None = None,
) -> tuple[int, list[str]]:
    """Each client takes the herd-free lock ``rounds`` times and writes with its token;
    ``fault`` runs once the first holder has written. (writes made, problems).

    A round whose session expired during the fault (the service could not be reached for a
    whole session timeout) is skipped: losing the lock is allowed, sharing it is not."""
    resource = FencedResource(check_tokens=False)  # judged afterwards, not enforced
    holders = [0]
    problems: list[str] = []
    guard = threading.Lock()
    first_write = threading.Event()

    def contend(number: int, client: Any) -> None:
        lock = Lock(client, path, f"c{number}")
        for _ in range(rounds):
            try:
                token = lock.acquire(timeout=30)
            except (KazooException, LockLost):
                continue
            with guard:
                holders[0] += 1
                if holders[0] > 1:
                    problems.append(f"{holders[0]} holders at once")
            resource.write(f"c{number}", token, f"c{number}")
            first_write.set()
            with guard:
                holders[0] -= 1
            with contextlib.suppress(KazooException):
                lock.release()

    if fault is not None:

        def faulty() -> None:
            first_write.wait(30)
            fault()

        fault_thread = threading.Thread(target=faulty)
        fault_thread.start()
    _run_threads(contend, clients, 120.0)
    if fault is not None:
        fault_thread.join()
    return len(resource.writes), problems + check_fenced_writes(resource.writes)


def herd_count(
    clients: list[Any], lock: str = "herd-free", path: str | None = None, hold_s: float = 0.05
) -> int:
    """Every client queues on one lock at once and takes it once, holding it ``hold_s``
    (so the others are all waiting when it is released); notifications in all."""
    lock_cls: Any = {"herd-free": Lock, "naive": NaiveLock}[lock]
    path = path or f"/herd/{lock}-{random.Random(len(clients)).randrange(10**6)}-{id(clients)}"
    locks = [lock_cls(client, path, f"c{i}") for i, client in enumerate(clients)]
    clients[0].ensure_path(path)
    queued = threading.Barrier(len(clients))

    def contend(number: int, client: Any) -> None:
        mutex = locks[number]
        queued.wait(timeout=60)
        mutex.acquire(timeout=60)
        client.handler.event_object().wait(hold_s)  # the critical section
        mutex.release()

    _run_threads(contend, clients, 180.0)
    return sum(mutex.wakeups for mutex in locks)


class Recorded:
    """A kazoo-shaped client that records ``set``, ``get`` and ``sync`` in a `CoordHistory`,
    with the zxid its answer carried (the client's ``last_zxid`` right after)."""

    def __init__(self, client: Any, history: CoordHistory, name: str) -> None:
        self.client, self.history, self.name = client, history, name

    def _call(self, kind: str, path: str, value: bytes | None, call: Callable[[], Any]) -> Any:
        shown = None if value is None else value.decode()
        handle = self.history.invoke(self.name, kind, path, shown)
        try:
            result = call()
        except NoNodeError:
            if kind != "get":
                self.history.complete(handle, "fail")
                raise
            # An answer: not there (yet) on this client's server, at this zxid.
            self.history.complete(handle, "ok", output=None, zxid=int(self.client.last_zxid))
            raise
        except KazooException as error:
            definite = type(error).__name__ not in ("ConnectionLoss", "OperationTimeoutError")
            self.history.complete(handle, "fail" if definite else "info")
            raise
        zxid = int(self.client.last_zxid)
        output = bytes(result[0]).decode() if kind == "get" else None
        self.history.complete(handle, "ok", output=output, zxid=zxid)
        return result

    def create(self, path: str, value: bytes) -> Any:
        return self._call("create", path, value, lambda: self.client.create(path, value))

    def set(self, path: str, value: bytes) -> Any:
        return self._call("set", path, value, lambda: self.client.set(path, value))

    def get(self, path: str) -> Any:
        return self._call("get", path, None, lambda: self.client.get(path))

    def sync(self, path: str) -> Any:
        return self._call("sync", path, None, lambda: self.client.sync(path))


def recorded_workload(
    clients: list[Any],
    *,
    seed: int = 0,
    operations: int = 30,
    paths: tuple[str, ...] = ("/w/a", "/w/b"),
) -> CoordHistory:
    """Random set/get/sync from every client at once; the history, ending in synced reads."""
    history = CoordHistory()
    first = Recorded(clients[0], history, "setup")
    for path in paths:
        clients[0].ensure_path(path.rsplit("/", 1)[0] or "/")
        try:
            first.create(path, b"")
        except NodeExistsError:
            first.set(path, b"")

    def work(number: int, client: Any) -> None:
        recorded = Recorded(client, history, f"c{number}")
        rng = random.Random(seed * 1000 + number)
        for step in range(operations):
            path = rng.choice(paths)
            roll = rng.random()
            if roll < 0.45:
                recorded.set(path, f"c{number}-{step}".encode())
            elif roll < 0.9:
                # NoNodeError: this client's server has not applied the creation yet.
                with contextlib.suppress(NoNodeError):
                    recorded.get(path)
            else:
                recorded.sync(path)

    _run_threads(work, clients, 120.0)
    final = Recorded(clients[0], history, "final")
    final.sync("/")
    for path in paths:
        final.get(path)
    return history
