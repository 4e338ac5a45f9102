"""The consistency experiments on real engines: etcd (linearizable vs serializable reads)
and Redis (replica reads, failover by hand). Each returns an `ExperimentResult`.

- `etcd_experiment(reads="linearizable")`: clients on every member put, append and read while a
  seeded nemesis isolates members (cuts their raft traffic), kills -9 and restarts them,
  and pauses them. Reads go through etcd's ReadIndex, so the checker must say
  *linearizable* (线性一致性) and no acknowledged write may be lost.
- `etcd_experiment(reads="serializable")`: one follower (chosen with the seed) is isolated
  from the other two for most of the run; readers on it read serializably (from its own
  copy) while writers append through the majority. Its copy stops moving, so its reads
  are stale (陈旧读) and the checker must say *not linearizable*, with the stale read as
  counterexample. Nothing is lost: the writes are all in the majority's log.
- `redis_experiment()`: writers append on the primary, readers read on the replicas. The
  replication links are cut for about a second — a stand-in for replication lag, which on
  loopback lasts microseconds and would make the loss a matter of luck — then the primary
  is killed (kill -9) and a replica is promoted *by hand* (``REPLICAOF NO ONE``). The
  writes the old primary acknowledged during the cut are gone: acknowledged writes lost > 0,
  plus stale replica reads.

Histories use microseconds since the start of the experiment. Every function starts its own
engine unless one is passed in, and always stops what it started. Never prints.
"""

from __future__ import annotations

import contextlib
import functools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, TypeVar

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult
from distlab.check.staleness import StalenessReport
from distlab.check.workload import FinalReads, run_threaded
from distlab.core import derive_seed
from distlab.engines.base import Engine, EngineError, EngineEvent
from distlab.engines.etcd import EtcdCluster
from distlab.engines.faults import EngineNemesis, Fault, NemesisEvent
from distlab.engines.redis import RedisReplicaSet
from distlab.engines.workload import ClientSpec, EngineSummary, engine_workload

__all__ = ["ExperimentResult", "etcd_experiment", "plot_counterexample", "redis_experiment"]

_US = 1000  # nanoseconds per history time unit
_E = TypeVar("_E", bound=Engine)


@dataclass
class ExperimentResult:
    """Everything one experiment produced; ``summary`` is the row for the table."""

    summary: EngineSummary
    history: History
    check: CheckResult
    staleness: StalenessReport
    lost_writes: list[Operation]
    final_state: dict[str, str]
    faults: list[NemesisEvent]
    engine_events: list[EngineEvent] = field(default_factory=list)
    notes: str = ""


def _clock() -> Callable[[], int]:
    origin = time.monotonic_ns()
    return lambda: (time.monotonic_ns() - origin) // _US


@contextlib.contextmanager
def _engine(given: _E | None, start: Callable[[], _E]) -> Iterator[_E]:
    """The engine passed in (left running), or one started now and closed afterwards."""
    engine = start() if given is None else given
    try:
        yield engine
    finally:
        if given is None:
            engine.close()


def _read_finals(history: History, read: Callable[[str], str], keys: list[str]) -> dict[str, str]:
    """Read every key once more (recorded as client "final"), retrying for a while."""
    finals: dict[str, str] = {}
    for key in keys:
        deadline = time.monotonic() + 20.0
        while True:
            try:
                value = history.record("final", "get", key, None, functools.partial(read, key))
                finals[key] = value or ""  # a get of null reads as "" (docs/HISTORY_FORMAT.md)
                break
            except EngineError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    return finals


def _run_and_judge(
    engine: Engine,
    nemesis: EngineNemesis,
    specs: list[ClientSpec],
    clock: Callable[[], int],
    key_names: list[str],
    *,
    seed: int,
    duration_s: float,
    final_member: Callable[[], str],
    system: str,
    mode: str,
    check_timeout_s: float,
    notes: str,
) -> ExperimentResult:
    """Run the clients while the nemesis works (the shared runner,
    `distlab.check.workload.run_threaded`), read the final values on the member
    ``final_member()`` names once every fault is undone, and judge the history."""
    first_event = len(engine.events())

    def finish(history: History, heal_time: int) -> FinalReads:
        # Redis: by now stop() restarted the old primary, empty, as a replica of the new one.
        final_client = engine.client(final_member(), timeout_s=5.0)
        try:
            return FinalReads(_read_finals(history, final_client.get, key_names))
        finally:
            final_client.close()

    nemesis.clock = clock  # fault times on the history's clock, also for a given nemesis
    report = run_threaded(
        engine,  # type: ignore[arg-type]  # an Engine has every verb but wait_for
        engine_workload(key_names, duration_s=duration_s, seed=seed, think_s=(0.0, 0.01)),
        [spec.workload_client() for spec in specs],
        failures=(EngineError,),
        finish=finish,
        system=system,
        consistency=mode,
        nemesis=nemesis,
        clock=clock,
        check_timeout_s=check_timeout_s,
        time_unit_ns=_US,
    )
    return ExperimentResult(
        report.summary,
        report.history,
        report.check,
        report.staleness,
        report.lost_writes,
        report.final_state,
        report.faults,
        engine.events()[first_event:],
        notes,
    )


def etcd_experiment(
    reads: str = "linearizable",
    *,
    seed: int = 0,
    duration_s: float = 4.0,
    clients: int = 4,
    keys: int = 2,
    nemesis: EngineNemesis | None = None,
    cluster: EtcdCluster | None = None,
    op_timeout_s: float = 1.0,
    check_timeout_s: float = 30.0,
) -> ExperimentResult:
    """Run the etcd experiment with ``reads`` "linearizable" or "serializable" (see above).

    ``cluster``: an already started `EtcdCluster` to use (left running); otherwise one is
    started and stopped here. ``nemesis`` replaces the default fault schedule.
    """
    if reads not in ("linearizable", "serializable"):
        raise ValueError(f"reads must be 'linearizable' or 'serializable', got {reads!r}")
    with _engine(cluster, partial(EtcdCluster.start, 3)) as etcd:
        etcd.wait_for_leader()
        rng = random.Random(derive_seed(seed, "etcd", reads))  # which follower is cut off
        key_names = [f"{reads[:3]}{seed}-k{i}" for i in range(keys)]
        clock = _clock()
        names = etcd.names
        serializable = reads == "serializable"
        if serializable:
            leader = etcd.wait_for_leader()
            victim = rng.choice(sorted(n for n in names if n != leader))
            others = [n for n in names if n != victim]
            cut_s = min(0.5, duration_s / 8)
            nemesis = nemesis or EngineNemesis(
                seed,
                schedule=[
                    Fault(cut_s, "isolate", nodes=(victim,)),
                    Fault(max(cut_s + 0.5, duration_s - 0.75), "heal"),
                ],
                clock=clock,
            )
            readers = max(1, clients // 2)
            writer_members = [others[i % len(others)] for i in range(clients - readers)]
            specs = [
                ClientSpec(
                    f"r{i}@{victim}",
                    partial(etcd.client, victim, serializable=True, timeout_s=op_timeout_s),
                    get_fraction=1.0,
                )
                for i in range(readers)
            ] + [
                ClientSpec(
                    f"w{i}@{member}",
                    partial(etcd.client, member, serializable=True, timeout_s=op_timeout_s),
                    get_fraction=0.2,
                )
                for i, member in enumerate(writer_members)
            ]
            notes = f"isolated follower {victim} from the others' raft traffic; readers on it"
        else:
            nemesis = nemesis or EngineNemesis(
                seed,
                faults=("isolate", "crash", "pause"),
                gap_s=(0.3, 0.6),
                hold_s=(0.8, 1.2),
                clock=clock,
            )
            members = [names[i % len(names)] for i in range(clients)]
            specs = [
                ClientSpec(
                    f"c{i}@{member}",
                    partial(etcd.client, member, timeout_s=op_timeout_s),
                    get_fraction=0.5,
                    put_fraction=0.2,
                )
                for i, member in enumerate(members)
            ]
            notes = "clients on every member; nemesis isolates, kills -9 and pauses members"
        return _run_and_judge(
            etcd,
            nemesis,
            specs,
            clock,
            key_names,
            seed=seed,
            duration_s=duration_s,
            final_member=etcd.wait_for_leader,
            system="etcd",
            mode=f"{reads} reads",
            check_timeout_s=check_timeout_s,
            notes=notes,
        )


def redis_experiment(
    *,
    seed: int = 0,
    duration_s: float = 3.0,
    clients: int = 4,
    keys: int = 2,
    cut_at_s: float | None = 0.5,
    crash_at_s: float = 1.5,
    replicas: RedisReplicaSet | None = None,
    op_timeout_s: float = 1.0,
    check_timeout_s: float = 30.0,
) -> ExperimentResult:
    """Replica reads, then a failover by hand that loses acknowledged writes (see above).

    Writers append on whichever member is primary now; readers read on the replicas. At
    ``cut_at_s`` both replication links are cut (None: never — then only the writes in
    flight at the crash can be lost, a matter of microseconds on loopback); at
    ``crash_at_s`` the primary is killed,
    the links healed and a replica (chosen with the seed) promoted with REPLICAOF NO ONE.
    """
    if not 0 < (cut_at_s or crash_at_s / 2) < crash_at_s < duration_s:
        raise ValueError("need 0 < cut_at_s < crash_at_s < duration_s")
    with _engine(replicas, RedisReplicaSet.start) as rs:
        rs.wait_for_replicas()
        rng = random.Random(derive_seed(seed, "redis"))  # which replica is promoted
        key_names = [f"redis{seed}-k{i}" for i in range(keys)]
        clock = _clock()
        old_primary, followers = rs.primary, rs.replicas
        promoted = rng.choice(followers)
        nemesis = EngineNemesis(
            seed,
            schedule=[
                *(
                    [Fault(cut_at_s, "partition", groups=((old_primary,), tuple(followers)))]
                    if cut_at_s is not None
                    else []
                ),
                Fault(crash_at_s, "crash", nodes=(old_primary,)),
                Fault(crash_at_s + 0.05, "heal"),
                Fault(crash_at_s + 0.1, "promote", nodes=(promoted,)),
            ],
            clock=clock,
        )
        writers = max(1, clients // 2)
        specs = [
            ClientSpec(
                f"w{i}", lambda: rs.client(rs.primary, timeout_s=op_timeout_s), 0.2, reconnect=True
            )
            for i in range(writers)
        ] + [
            ClientSpec(f"r{i}@{member}", partial(rs.client, member, timeout_s=op_timeout_s), 1.0)
            for i, member in enumerate(
                followers[i % len(followers)] for i in range(clients - writers)
            )
        ]
        notes = (
            (
                f"cut replication {old_primary}->{','.join(followers)} at {cut_at_s} s; "
                if cut_at_s is not None
                else "replication never cut; "
            )
            + f"kill -9 {old_primary} at {crash_at_s} s; promoted {promoted} by hand "
            "(REPLICAOF NO ONE)"
        )
        return _run_and_judge(
            rs,
            nemesis,
            specs,
            clock,
            key_names,
            seed=seed,
            duration_s=duration_s,
            final_member=lambda: rs.primary,  # the promoted replica, after the run
            system="redis",
            mode="replica reads, failover" + (", cut first" if cut_at_s is not None else ""),
            check_timeout_s=check_timeout_s,
            notes=notes,
        )


def plot_counterexample(result: ExperimentResult, *, max_ops: int = 6, keep_chars: int = 14) -> Any:
    """A timeline of the checker's counterexample (witness in red) and the ops around it.

    Values built by many appends are long, so a value read is shown by its last
    ``keep_chars`` characters after "…" (its newest suffixes, which tell the versions apart).
    """
    from distlab.viz.timeline import plot_timeline, violation_window

    if result.check.verdict != "violation":
        raise ValueError(f"the checker found no violation (verdict {result.check.verdict!r})")

    def shorten(op: Operation) -> Operation:
        if op.output is None or len(op.output) <= keep_chars:
            return op
        return replace(op, output="…" + op.output[-keep_chars:])

    window = [shorten(op) for op in violation_window(result.history, result.check, max_ops=max_ops)]
    summary = result.summary
    return plot_timeline(
        window,
        highlight=result.check.witness,
        title=f"{summary.system}, {summary.consistency}: key {result.check.witness[0].key!r}",
        time_unit="µs since start",
    )
