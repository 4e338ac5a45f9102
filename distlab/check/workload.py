"""One workload for every store: seeded clients, a nemesis beside them, one History, a verdict.

A Jepsen-style run is the same loop whatever runs the store — distlab's own replicated KV on
real processes (`distlab.kv.workload`), etcd or Redis (`distlab.engines`). This module is
that loop, once; those two are thin adapters that say how a client connects and how the
final values are read.

- :class:`OperationMix` draws each operation (a key, then get / append / put) from a
  client's seeded RNG, and :func:`write_value` makes every written value unique
  (``[c1.7]`` appended, ``<c1.7>`` put: client ``c1``, its 7th operation), so every value
  read names the writes it contains and a lost acknowledged write shows in the final value.
  Both are pure; the simulator's workload (`distlab.sim.kv_sim`) uses them too.
- :class:`Workload` describes what the clients do (keys, time, ops cap, think time, seed);
  a :class:`WorkloadClient` is one client (its name in the history, how it connects, its
  mix).
- :func:`drive_clients` runs one thread per client until the time (or the ops cap) is up,
  recording every call into one `History`: ``ok``, ``fail`` when the store's error is
  definite, ``info`` otherwise (it may have happened).
- :func:`run_threaded` is the whole run on any `distlab.core.ClusterControl`: start the
  nemesis, drive the clients, stop the nemesis (which heals and restarts what it hurt),
  read the final values (the caller's ``finish``), then judge: the linearizability
  checker, staleness, acknowledged writes lost, one `RunSummary`
  (`distlab.check.outcome.judge_run`).

What it must never do: start processes or open sockets itself (the clients' ``connect``
and ``finish`` do, on the caller's store), print, or draw an operation from unseeded
randomness (thread timing is real, so a threaded run does not replay event for event; the
simulator's single-threaded run does, which is why its loop is its own).
Where it fits: above `history`, `outcome` and `nemesis` in `distlab.check`; below the
adapters in `distlab.kv` and `distlab.engines`.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from distlab.check.history import History, Operation, OpKind
from distlab.check.linearizability import CheckResult
from distlab.check.nemesis import Nemesis, NemesisEvent
from distlab.check.outcome import RunSummary, judge_run
from distlab.check.staleness import StalenessReport
from distlab.core import ClusterControl, derive_seed

__all__ = [
    "FinalReads",
    "OperationMix",
    "RunReport",
    "StoreClient",
    "Workload",
    "WorkloadClient",
    "drive_clients",
    "run_threaded",
    "write_value",
]


@dataclass(frozen=True)
class OperationMix:
    """The fractions of gets, appends and puts a client issues (they sum to 1)."""

    get: float = 0.5
    append: float = 0.3
    put: float = 0.2

    def __post_init__(self) -> None:
        fractions = (self.get, self.append, self.put)
        if min(fractions) < 0 or not math.isclose(sum(fractions), 1.0, abs_tol=1e-9):
            raise ValueError(f"a mix is three fractions >= 0 that sum to 1, got {fractions}")

    def draw(self, rng: random.Random, keys: Sequence[str]) -> tuple[OpKind, str]:
        """The next operation's kind and key: a key first, then the kind (two draws)."""
        key = rng.choice(keys)
        roll = rng.random()
        if roll < self.get:
            return "get", key
        if roll < self.get + self.append:
            return "append", key
        return "put", key


def write_value(kind: OpKind, client: Hashable, n: int) -> str:
    """The unique value a client writes in its ``n``-th operation: ``[client.n]`` appended,
    ``<client.n>`` put. The brackets delimit each token, so ``[c1.1]`` is never part of
    ``[c1.10]``, and a final value shows which appends it holds."""
    return f"[{client}.{n}]" if kind == "append" else f"<{client}.{n}>"


class StoreClient(Protocol):
    """What a client of the workload calls: a KV Clerk, an etcd or a Redis client."""

    def get(self, key: str) -> str: ...
    def put(self, key: str, value: str) -> None: ...
    def append(self, key: str, suffix: str) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class WorkloadClient:
    """One client: its name in the history (and in the values it writes), how it connects,
    and its mix. ``connect()`` is called once, and again after each failed call when
    ``reconnect`` is true (e.g. to follow a Redis failover to the new primary)."""

    name: Hashable
    connect: Callable[[], StoreClient]
    mix: OperationMix = field(default_factory=OperationMix)
    reconnect: bool = False


@dataclass(frozen=True)
class Workload:
    """What the clients do, apart from where they do it.

    Each client issues operations on ``keys`` until ``duration_s`` seconds are up (or it
    issued ``ops_per_client``), pausing ``think_s`` (min, max) seconds between them and
    ``retry_pause_s`` after a failed call (so a client does not spin against a node that
    is down; 0 for a client that backs off itself, as the KV Clerk does). A client may
    finish its last call up to ``join_grace_s`` after the end. ``seed`` seeds every
    client's operations.
    """

    keys: tuple[str, ...]
    duration_s: float
    seed: int = 0
    ops_per_client: int | None = None
    think_s: tuple[float, float] = (0.0, 0.01)
    retry_pause_s: float = 0.0
    join_grace_s: float = 60.0

    def __post_init__(self) -> None:
        if not self.keys or self.duration_s <= 0:
            raise ValueError("a workload needs at least one key and duration_s > 0")
        if not 0 <= self.think_s[0] <= self.think_s[1]:
            raise ValueError(f"think_s is (min, max) with 0 <= min <= max, got {self.think_s}")


@dataclass(frozen=True)
class FinalReads:
    """The final value of every key, read after the heal (``finish``'s answer), and, where
    replicas were compared, whether they converged and how long after the heal."""

    state: dict[str, str]
    converged: bool | None = None
    convergence_s: float | None = None


@dataclass
class RunReport:
    """Everything one run produced (the adapters rename what they need)."""

    summary: RunSummary
    history: History
    check: CheckResult
    staleness: StalenessReport
    lost_writes: list[Operation]
    final_state: dict[str, str]
    faults: list[NemesisEvent]
    heal_time: int  # on the history's clock: when the nemesis had undone every fault
    elapsed_s: float


def drive_clients(
    clients: Sequence[WorkloadClient],
    history: History,
    workload: Workload,
    *,
    failures: tuple[type[Exception], ...],
) -> None:
    """Run every client on its own thread until the workload's time is up, recording every
    call into ``history``. An exception of a type in ``failures`` is the store failing a
    call (recorded as ``fail`` or ``info``; the client goes on); any other is a bug,
    raised here once every thread has stopped."""
    stop_at = time.monotonic() + workload.duration_s
    errors: list[BaseException] = []
    threads = [
        threading.Thread(
            target=_client_loop,
            args=(client, history, workload, failures, stop_at, errors),
            name=f"client-{client.name}",
            daemon=True,
        )
        for client in clients
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, stop_at - time.monotonic()) + workload.join_grace_s)
    if errors:
        raise errors[0]


def _client_loop(
    client: WorkloadClient,
    history: History,
    workload: Workload,
    failures: tuple[type[Exception], ...],
    stop_at: float,
    errors: list[BaseException],
) -> None:
    rng = random.Random(derive_seed(workload.seed, "client", client.name))
    cap = workload.ops_per_client
    try:
        store = client.connect()
    except BaseException as error:  # no store to run against: a setup bug, reported
        errors.append(error)
        return
    n = 0
    try:
        while time.monotonic() < stop_at and (cap is None or n < cap):
            n += 1
            kind, key = client.mix.draw(rng, workload.keys)
            value = None if kind == "get" else write_value(kind, client.name, n)
            try:
                history.record(client.name, kind, key, value, _call(store, kind, key, value))
            except failures:
                if client.reconnect:
                    store.close()
                    store = client.connect()
                if workload.retry_pause_s > 0:
                    time.sleep(workload.retry_pause_s)
            pause = rng.uniform(*workload.think_s)
            if pause > 0:
                time.sleep(pause)
    except BaseException as error:  # a bug, not the store failing: report it
        errors.append(error)
    finally:
        store.close()


def _call(
    store: StoreClient, kind: OpKind, key: str, value: str | None
) -> Callable[[], str | None]:
    if kind == "get":
        return lambda: store.get(key)
    assert value is not None
    if kind == "append":
        return lambda: store.append(key, value)
    return lambda: store.put(key, value)


def run_threaded(
    control: ClusterControl,
    workload: Workload,
    clients: Sequence[WorkloadClient],
    *,
    failures: tuple[type[Exception], ...],
    finish: Callable[[History, int], FinalReads],
    system: str,
    consistency: str,
    nemesis: Nemesis | None = None,
    clock: Callable[[], int] = time.monotonic_ns,
    check_timeout_s: float = 20.0,
    time_unit_ns: int = 1,
    key_names: Mapping[str, str] | None = None,
) -> RunReport:
    """One whole run against ``control`` (see the module docstring), judged.

    ``finish(history, heal_time)`` reads the final values once every fault is undone
    (``heal_time`` on the history's clock); it may record its reads into the history.
    ``clock`` is the history's clock (``time_unit_ns`` nanoseconds per unit); the nemesis,
    if any, must stamp its events with the same one. ``system`` and ``consistency`` label
    the summary; ``key_names`` (stored key -> the learner's name) only changes how the
    checker's explanation names keys.
    """
    history = History(clock=clock, time_unit_ns=time_unit_ns or None)
    started = time.monotonic()
    if nemesis is not None:
        nemesis.start(control, workload.duration_s)
    try:
        drive_clients(clients, history, workload, failures=failures)
    finally:
        if nemesis is not None:
            nemesis.stop()  # undoes every fault still in force: the heal
    elapsed_s = time.monotonic() - started
    recovered_at = nemesis.recovered_at if nemesis is not None else None
    heal_time = recovered_at if recovered_at is not None else clock()
    final = finish(history, heal_time)
    events = list(nemesis.events) if nemesis is not None else []
    judged = judge_run(
        history,
        final.state,
        system=system,
        consistency=consistency,
        elapsed_s=elapsed_s,
        faults=sum(not event.error for event in events),
        check_timeout_s=check_timeout_s,
        time_unit_ns=time_unit_ns,
        key_names=key_names,
        converged=final.converged,
        convergence_s=final.convergence_s,
    )
    return RunReport(
        summary=judged.summary,
        history=history,
        check=judged.check,
        staleness=judged.staleness,
        lost_writes=judged.lost_writes,
        final_state=final.state,
        faults=events,
        heal_time=heal_time,
        elapsed_s=elapsed_s,
    )
