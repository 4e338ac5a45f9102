"""A Jepsen-style test run: concurrent clients + a nemesis, then the verdicts.

``run_workload(cluster, clients=4, duration_s=6, nemesis=Nemesis(seed), seed=1)``:

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
   Written values are unique (``p<client>.<n>``, ``a<client>.<n>;``), so every value read
   names the write that produced it.
2. Meanwhile the nemesis injects its faults; at the end it undoes them (the *heal*).
3. After the heal: in weak mode, every replica's table is polled until all agree
   (convergence time); then the final value of every key is read — through the log with a
   fresh Clerk in strong mode (i.e. through a healthy majority), from the converged tables
   in weak mode, from all N replicas (newest stamp) in quorum mode. Only the run's own keys:
   whatever else the cluster holds is none of this run's business.
4. The verdicts: ok / failed / indefinite counts, latency, the linearizability checker's
   answer, stale reads (distlab.check.staleness), and *acknowledged writes lost*.

Acknowledged writes lost: an acked write ``w`` on key ``k`` is lost when the final value of
``k`` bears no trace of it (for a put: the value does not start with ``w``'s value; for an
append: its suffix is not in the value) *and* no put on ``k`` could have overwritten it — a
put overwrites ``w`` only if it might be ordered after ``w``, i.e. it did not complete
before ``w`` was invoked (failed puts never happened and do not count). This never
accuses a correct store: it is a lower bound on what was lost. The definition, and the
summary numbers, live in `distlab.check.outcome`, shared with `distlab.engines.workload`
(``lost_acknowledged_writes`` is re-exported here).

Where it fits: uses the Clerk (rpc), the nemesis and the checkers; never starts processes
(the caller brings the cluster) and never prints.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult, check_linearizable
from distlab.check.nemesis import Nemesis, NemesisEvent
from distlab.check.outcome import RunSummary, lost_acknowledged_writes, run_numbers
from distlab.check.staleness import StalenessReport, measure_staleness
from distlab.kv.clerk import Clerk, KVError
from distlab.rpc import Client, RpcError

__all__ = [
    "WorkloadResult",
    "WorkloadSummary",
    "lost_acknowledged_writes",
    "run_workload",
    "wait_for_convergence",
]


WorkloadSummary = RunSummary
"""The numbers of one run: `distlab.check.outcome.RunSummary` (``system`` is "distlab";
``converged``/``convergence_s`` are measured in weak mode only)."""


@dataclass
class WorkloadResult:
    """Everything one run produced."""

    summary: WorkloadSummary
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
    *,
    clients: int = 4,
    duration_s: float = 6.0,
    ops: int | None = None,
    keys: int = 3,
    nemesis: Nemesis | None = None,
    seed: int = 0,
    mix: tuple[float, float, float] = (0.5, 0.3, 0.2),
    think_s: tuple[float, float] = (0.0, 0.01),
    op_deadline_s: float = 3.0,
    attempt_timeout_s: float = 0.5,
    check_timeout_s: float = 20.0,
    settle_timeout_s: float = 30.0,
    consistency: str | None = None,
    run: str | None = None,
) -> WorkloadResult:
    """Run the workload against ``cluster`` and judge it (see the module docstring).

    ``mix`` is the (get, append, put) fraction; ``ops`` caps operations per client. Each
    operation is retried for up to ``op_deadline_s`` (each attempt ``attempt_timeout_s``).
    ``run`` names the run (its keys are ``<run>.k<i>``); by default a fresh name is chosen.
    Raises ValueError if the keys of an explicit ``run`` already hold data.
    """
    if clients < 1 or keys < 1 or duration_s <= 0:
        raise ValueError("need clients >= 1, keys >= 1 and duration_s > 0")
    consistency = consistency or getattr(cluster.program_cls, "consistency", "strong")
    names = list(cluster.names)
    # Client ids must never repeat on a cluster (the duplicate table would swallow a rerun's
    # operations); a random suffix also keeps apart runs from two processes.
    nonce = uuid.uuid4().hex[:6]
    run, key_names = _fresh_keys(cluster, consistency, run, seed, keys, nonce, settle_timeout_s)
    history = History()
    clerks = [
        Clerk.for_cluster(
            cluster,
            consistency=consistency,
            client_id=f"{run}-c{i}-{nonce}",
            preferred=names[i % len(names)],
            deadline_s=op_deadline_s,
            attempt_timeout_s=attempt_timeout_s,
            history=history,
            history_client=i,
            seed=seed * 1000 + i,
        )
        for i in range(clients)
    ]
    stop_at = time.monotonic() + duration_s
    errors: list[BaseException] = []

    def client_loop(i: int) -> None:
        rng = random.Random(f"{seed}-{i}")
        clerk = clerks[i]
        n = 0
        while time.monotonic() < stop_at and (ops is None or n < ops):
            n += 1
            key = rng.choice(key_names)
            roll = rng.random()
            try:
                if roll < mix[0]:
                    clerk.get(key)
                elif roll < mix[0] + mix[1]:
                    clerk.append(key, f"a{i}.{n};")
                else:
                    clerk.put(key, f"p{i}.{n}")
            except KVError:
                pass  # recorded in the history as fail or info
            except BaseException as error:
                errors.append(error)
                return
            pause = rng.uniform(*think_s)
            if pause > 0:
                time.sleep(pause)

    started = time.monotonic()
    if nemesis is not None:
        nemesis.start(cluster, duration_s)
    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=duration_s + op_deadline_s + 60)
    finally:
        if nemesis is not None:
            nemesis.stop()
    elapsed = time.monotonic() - started
    if errors:
        raise errors[0]
    heal_time = nemesis.recovered_at if nemesis is not None else time.monotonic_ns()

    converged: bool | None = None
    convergence_s: float | None = None
    if consistency == "weak":
        tables = wait_for_convergence(cluster, settle_timeout_s)
        converged = tables is not None
        if converged:
            convergence_s = max(0.0, (time.monotonic_ns() - heal_time) / 1e9)
            table = next(iter(tables.values()))  # type: ignore[union-attr]
        else:
            table = _read_weak_tables(cluster).get(names[0], {})
        final_state = {key: table.get(key, "") for key in key_names}
    else:
        final_state = _read_keys(
            cluster, consistency, key_names, f"{run}-final-{nonce}", settle_timeout_s
        )

    clerk_statistics = [clerk.statistics() for clerk in clerks]
    for clerk in clerks:
        clerk.close()
    check = check_linearizable(history, timeout_s=check_timeout_s)
    staleness = measure_staleness(history)
    lost = lost_acknowledged_writes(history, final_state)
    summary = RunSummary(
        system="distlab",
        consistency=consistency,
        **run_numbers(history, check, staleness, lost, elapsed_s=elapsed),
        faults=len(nemesis.events) if nemesis is not None else 0,
        converged=converged,
        convergence_s=convergence_s,
    )
    return WorkloadResult(
        summary=summary,
        history=history,
        check=check,
        staleness=staleness,
        faults=list(nemesis.events) if nemesis is not None else [],
        final_state=final_state,
        lost_writes=lost,
        heal_time=heal_time,
        run=run,
        keys=key_names,
        clerk_statistics=clerk_statistics,
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
    if they do not agree within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        tables = _read_weak_tables(cluster)
        if (
            len(tables) == len(cluster.names)
            and len({tuple(sorted(t.items())) for t in tables.values()}) == 1
        ):
            return tables
        time.sleep(0.05)
    return None
