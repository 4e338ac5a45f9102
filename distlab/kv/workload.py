"""A Jepsen-style test run of distlab's own KV store: concurrent clients + a nemesis, then
the verdicts.

``run_workload(cluster, clients=4, duration_s=6, nemesis=Nemesis(seed), seed=1)`` (or
``run_workload(cluster, KVWorkload(...))``: the same options as one value):

0. The run takes a name (``run=``, by default ``s<seed>r<n>`` with ``n`` counting this
   process's runs) and works only on fresh keys ``<run>.k0``, ``<run>.k1``, ... and with fresh
   client ids. Both matter when a cluster serves several runs (a notebook's cell, then a
   widget's button, with the same seed): the checker assumes every key starts empty and every
   value read was written by *this* history, and the servers' duplicate table remembers each
   client id's last sequence number, so a rerun reusing client ids would see its first
   operations answered as duplicates of the previous run's. The keys are read before the run
   starts; if they already hold data the next name is tried (an explicit ``run=`` raises).
1. ``clients`` threads, each with its own :class:`~distlab.kv.clerk.Clerk` (sticky to node
   ``i mod n`` in weak mode), issue a seeded mix of get / put / append on a few keys until
   the time (or ``ops`` per client) is up, recording every call into one ``History``.
   Written values are unique (``<c2.7>`` put, ``[c2.7]`` appended by client ``c2`` in its
   7th operation), so every value read names the write that produced it.
2. Meanwhile the nemesis injects its faults; at the end it undoes them (the *heal*).
3. After the heal: in weak mode, every replica's table is polled until all agree
   (convergence time); then the final value of every key is read — through the log with a
   fresh Clerk in strong mode (i.e. through a healthy majority), from the converged tables
   in weak mode, from all N replicas (newest stamp) in quorum mode. Only the run's own keys:
   whatever else the cluster holds is none of this run's business.
4. The verdicts: ok / failed / indefinite counts, latency, the linearizability checker's
   answer, stale reads (distlab.check.staleness), and *acknowledged writes lost*.

Steps 1, 2 and 4 are the one threaded runner every store shares
(`distlab.check.workload.run_threaded`, which etcd and Redis use too); this module says only
how a KV client connects (steps 0 and 1) and how the final values are read (step 3).

Acknowledged writes lost: an acked write ``w`` on key ``k`` is lost when the final value of
``k`` bears no trace of it (for a put: the value does not start with ``w``'s value; for an
append: its suffix is not in the value) *and* no put on ``k`` could have overwritten it — a
put overwrites ``w`` only if it might be ordered after ``w``, i.e. it did not complete
before ``w`` was invoked (failed puts never happened and do not count). This never
accuses a correct store: it is a lower bound on what was lost. The definition, and the
summary numbers, live in `distlab.check.outcome`, shared with `distlab.engines.workload`
(``lost_acknowledged_writes`` is re-exported here).

Where it fits: uses the Clerk (rpc), the nemesis and the shared runner; never starts
processes (the caller brings the cluster) and never prints.
"""

from __future__ import annotations

import functools
import itertools
import threading
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from typing import Any

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult
from distlab.check.nemesis import Nemesis, NemesisEvent
from distlab.check.outcome import RunSummary, lost_acknowledged_writes
from distlab.check.staleness import StalenessReport
from distlab.check.workload import (
    FinalReads,
    OperationMix,
    Workload,
    WorkloadClient,
    run_threaded,
)
from distlab.core import derive_seed
from distlab.kv.clerk import Clerk, KVError
from distlab.rpc import Client, RpcError

__all__ = [
    "KVWorkload",
    "WorkloadResult",
    "WorkloadSummary",
    "lost_acknowledged_writes",
    "run_workload",
    "wait_for_convergence",
]

WorkloadSummary = RunSummary
"""The numbers of one run: `distlab.check.outcome.RunSummary` (``system`` is "distlab";
``converged``/``convergence_s`` are measured in weak mode only)."""


@dataclass(frozen=True)
class KVWorkload:
    """What one run does: `run_workload`'s options as one value.

    ``mix`` is the (get, append, put) fraction (put: whatever get and append leave);
    ``ops`` caps operations per client. Each operation is retried for up to
    ``op_deadline_s`` (each attempt ``attempt_timeout_s``). ``settle_timeout_s`` bounds the
    reads before and after the run and the wait for weak replicas to converge.
    ``consistency`` defaults to the cluster's mode; ``run`` names the run (its keys are
    ``<run>.k<i>``; by default a fresh name is chosen). ``reads`` is the strong clients' read
    path (`distlab.kv.Clerk`'s ``reads``: ``"read_index"``, ``"log"`` or ``"follower"``); the
    final reads that look for lost writes always go through the log, independent of the path
    on trial.
    """

    clients: int = 4
    duration_s: float = 6.0
    ops: int | None = None
    keys: int = 3
    seed: int = 0
    mix: tuple[float, float, float] = (0.5, 0.3, 0.2)
    think_s: tuple[float, float] = (0.0, 0.01)
    op_deadline_s: float = 3.0
    attempt_timeout_s: float = 0.5
    check_timeout_s: float = 20.0
    settle_timeout_s: float = 30.0
    consistency: str | None = None
    run: str | None = None
    reads: str = "read_index"

    def __post_init__(self) -> None:
        if self.clients < 1 or self.keys < 1 or self.duration_s <= 0:
            raise ValueError("need clients >= 1, keys >= 1 and duration_s > 0")

    @property
    def operation_mix(self) -> OperationMix:
        get, append = self.mix[0], self.mix[1]
        return OperationMix(get=get, append=append, put=max(0.0, 1.0 - get - append))


@dataclass
class WorkloadResult:
    """Everything one run produced."""

    summary: RunSummary
    history: History
    check: CheckResult
    staleness: StalenessReport
    faults: list[NemesisEvent]
    final_state: dict[str, str]
    lost_writes: list[Operation]
    heal_time: int | None  # on the history's clock
    run: str  # the run's name: its keys are ``<run>.k0``, ``<run>.k1``, ...
    keys: list[str]
    clerk_statistics: list[Any] = field(default_factory=list)


# Numbers this process's runs, so that each one gets its own keys (module docstring, step 0).
_RUN_NUMBERS = itertools.count(1)
_RUN_NUMBERS_LOCK = threading.Lock()
_MAX_NAME_TRIES = 50


def _next_run_name(seed: int) -> str:
    with _RUN_NUMBERS_LOCK:
        return f"s{seed}r{next(_RUN_NUMBERS)}"


def run_workload(
    cluster: Any,
    workload: KVWorkload | None = None,
    *,
    nemesis: Nemesis | None = None,
    **options: Any,
) -> WorkloadResult:
    """Run a workload against ``cluster`` and judge it (see the module docstring).

    ``options`` are `KVWorkload`'s fields (``clients=``, ``duration_s=``, ``seed=``, ...),
    applied over ``workload`` (default: `KVWorkload()`). Raises ValueError if the keys of an
    explicit ``run`` already hold data.
    """
    spec = replace(workload or KVWorkload(), **options)
    consistency = spec.consistency or str(getattr(cluster.program_cls, "consistency", "strong"))
    names = list(cluster.names)
    # Client ids must never repeat on a cluster (the duplicate table would swallow a rerun's
    # operations); a random suffix also keeps apart runs from two processes.
    nonce = uuid.uuid4().hex[:6]
    run, key_names = _fresh_keys(
        cluster, consistency, spec.run, spec.seed, spec.keys, nonce, spec.settle_timeout_s
    )
    # The runner records every call; the Clerks only retry (no history of their own).
    clerks = [
        Clerk.for_cluster(
            cluster,
            consistency=consistency,
            client_id=f"{run}-c{i}-{nonce}",
            preferred=names[i % len(names)],
            deadline_s=spec.op_deadline_s,
            attempt_timeout_s=spec.attempt_timeout_s,
            seed=derive_seed(spec.seed, "clerk", i),
            reads=spec.reads,
        )
        for i in range(spec.clients)
    ]
    mix = spec.operation_mix
    clients = [
        WorkloadClient(f"c{i}", functools.partial(_same, clerk), mix)
        for i, clerk in enumerate(clerks)
    ]

    def finish(history: History, heal_time: int) -> FinalReads:
        if consistency != "weak":
            client_id = f"{run}-final-{nonce}"
            return FinalReads(
                _read_keys(cluster, consistency, key_names, client_id, spec.settle_timeout_s)
            )
        tables = wait_for_convergence(cluster, spec.settle_timeout_s)
        convergence_s = None
        if tables is not None:
            convergence_s = max(0.0, (time.monotonic_ns() - heal_time) / 1e9)
            table = next(iter(tables.values()))
        else:
            table = _read_weak_tables(cluster).get(names[0], {})
        state = {key: table.get(key, "") for key in key_names}
        return FinalReads(state, converged=tables is not None, convergence_s=convergence_s)

    try:
        report = run_threaded(
            cluster,
            Workload(
                keys=tuple(key_names),
                duration_s=spec.duration_s,
                seed=spec.seed,
                ops_per_client=spec.ops,
                think_s=spec.think_s,
                join_grace_s=spec.op_deadline_s + 60,
            ),
            clients,
            failures=(KVError,),
            finish=finish,
            system="distlab",
            consistency=consistency,
            nemesis=nemesis,
            check_timeout_s=spec.check_timeout_s,
            # Explanations name the keys as a learner thinks of them: k0, not s8r2.k0.
            key_names={key: key.removeprefix(f"{run}.") for key in key_names},
        )
    finally:
        for clerk in clerks:
            clerk.close()
    return WorkloadResult(
        summary=report.summary,
        history=report.history,
        check=report.check,
        staleness=report.staleness,
        faults=report.faults,
        final_state=report.final_state,
        lost_writes=report.lost_writes,
        heal_time=report.heal_time,
        run=run,
        keys=key_names,
        clerk_statistics=[clerk.statistics() for clerk in clerks],
    )


def _fresh_keys(
    cluster: Any,
    consistency: str,
    run: str | None,
    seed: int,
    keys: int,
    nonce: str,
    timeout_s: float,
) -> tuple[str, list[str]]:
    """A run name whose keys hold nothing yet, and those keys (module docstring, step 0)."""
    for _ in range(_MAX_NAME_TRIES):
        name = run if run is not None else _next_run_name(seed)
        key_names = [f"{name}.k{i}" for i in range(keys)]
        if consistency == "weak":
            present = {k for table in _read_weak_tables(cluster).values() for k in table}
            used = [key for key in key_names if key in present]
        else:
            values = _read_keys(cluster, consistency, key_names, f"{name}-init-{nonce}", timeout_s)
            used = [key for key, value in values.items() if value]
        if not used:
            return name, key_names
        if run is not None:
            raise ValueError(
                f"the keys of run {run!r} already hold data ({', '.join(used)}): the checker "
                "assumes a run's keys start empty; give the run another name (or none)"
            )
    raise RuntimeError(f"found no unused run name in {_MAX_NAME_TRIES} tries")


def _read_keys(
    cluster: Any, consistency: str, key_names: list[str], client_id: str, timeout_s: float
) -> dict[str, str]:
    """Read every key with a fresh Clerk: through the log (strong), or from every replica
    keeping the newest stamp (quorum, r = N)."""
    extra = {"r": len(cluster.names)} if consistency == "quorum" else {}
    with Clerk.for_cluster(
        cluster,
        consistency=consistency,
        client_id=client_id,
        deadline_s=timeout_s,
        reads="log",
        **extra,
    ) as clerk:
        return {key: clerk.get(key) for key in key_names}


def _read_weak_tables(cluster: Any) -> dict[Hashable, dict[str, str]]:
    tables: dict[Hashable, dict[str, str]] = {}
    for name in cluster.names:
        try:
            with Client(cluster.address(name), name="observer", secret=cluster.secret) as client:
                tables[name] = dict(client.call("WeakKV.dump", timeout=2.0))
        except RpcError:
            pass  # a node that is down has no table to compare
    return tables


def wait_for_convergence(cluster: Any, timeout_s: float = 30.0) -> dict | None:
    """Poll every weak replica's table until all agree; returns ``{node: table}``, or None
    if they do not agree within ``timeout_s`` (the cluster's ``wait_for`` lets time pass)."""
    agreed: dict[Hashable, dict[str, str]] = {}

    def all_agree() -> bool:
        tables = _read_weak_tables(cluster)
        if (
            len(tables) == len(cluster.names)
            and len({tuple(sorted(t.items())) for t in tables.values()}) == 1
        ):
            agreed.update(tables)
            return True
        return False

    return agreed if cluster.wait_for(all_agree, timeout_s) else None


def _same(clerk: Clerk) -> Clerk:
    """A client factory that hands out the one Clerk it was made with."""
    return clerk
