"""Concurrent clients against a real engine, recorded into one History; then the numbers.

`run_clients` starts one thread per `ClientSpec`. Each client is sequential (one call at a
time, as the checker requires), bound to one member (or to "whoever is primary now"), and
issues a seeded mix of ``get``, ``put`` and ``append`` on a few keys until the time is up.
Written values are unique (``<w0.7>`` put, ``[w0.7]`` appended: client ``w0``, its 7th
operation), so every value read names the writes it contains, and an acknowledged append
that vanished can be spotted in the final value.

Every call goes through `History.record`: ``ok`` with the value read, ``fail`` when the
engine error is definite (connection refused, rejected), ``info`` otherwise (timed out:
it may have happened).

The loop itself is `distlab.check.workload`'s, the one threaded runner distlab's own KV
store uses too; a `ClientSpec` is an engine's way to write a
`distlab.check.workload.WorkloadClient`. `summarize` turns a finished run into an
`EngineSummary`, which is `distlab.check.outcome.RunSummary`, the summary
`distlab.kv.workload` returns too, so the rows of one table can come from distlab's own
store and from etcd or Redis; the numbers themselves and `lost_acknowledged_writes` come
from `distlab.check.outcome` (re-exported here).

Never starts processes (the caller brings the engine); never prints.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult
from distlab.check.outcome import RunSummary, lost_acknowledged_writes, run_numbers
from distlab.check.staleness import StalenessReport
from distlab.check.workload import OperationMix, Workload, WorkloadClient, drive_clients
from distlab.engines.base import EngineClient, EngineError

__all__ = [
    "ClientSpec",
    "EngineSummary",
    "lost_acknowledged_writes",
    "run_clients",
    "summarize",
    "summary_rows",
    "summary_table",
]

# After a failed call a client waits this long before the next: a member that is down
# answers at once (connection refused), and a client must not spin against it.
RETRY_PAUSE_S = 0.02


@dataclass(frozen=True)
class ClientSpec:
    """One client: its id in the history, how to connect, and what it does.

    ``connect()`` returns a fresh client; it is called again after a failed call when
    ``reconnect`` is true (e.g. to follow a Redis failover to the new primary).
    ``get_fraction`` of its calls are gets, ``put_fraction`` puts, the rest appends.
    """

    client_id: Hashable
    connect: Callable[[], EngineClient]
    get_fraction: float = 0.5
    reconnect: bool = False
    put_fraction: float = 0.0

    def workload_client(self) -> WorkloadClient:
        """The same client for the shared runner (`distlab.check.workload`)."""
        append = max(0.0, 1.0 - self.get_fraction - self.put_fraction)
        mix = OperationMix(get=self.get_fraction, append=append, put=self.put_fraction)
        return WorkloadClient(self.client_id, self.connect, mix, reconnect=self.reconnect)


EngineSummary = RunSummary
"""The summary of an engine experiment: `distlab.check.outcome.RunSummary` (one class for
every workload, so rows from etcd, Redis and distlab's own store share one table)."""


def engine_workload(
    keys: Sequence[str],
    *,
    duration_s: float,
    seed: int,
    think_s: tuple[float, float],
    ops_per_client: int | None = None,
) -> Workload:
    """The shared runner's description of an engine run (a pause after each failed call)."""
    return Workload(
        keys=tuple(keys),
        duration_s=duration_s,
        seed=seed,
        think_s=think_s,
        retry_pause_s=RETRY_PAUSE_S,
        ops_per_client=ops_per_client,
    )


def run_clients(
    specs: Sequence[ClientSpec],
    history: History,
    *,
    duration_s: float,
    keys: Sequence[str],
    seed: int,
    think_s: tuple[float, float] = (0.0, 0.01),
    ops_per_client: int | None = None,
) -> None:
    """Run every client for ``duration_s`` seconds (or until it issued ``ops_per_client``
    operations), recording into ``history``."""
    drive_clients(
        [spec.workload_client() for spec in specs],
        history,
        engine_workload(
            keys, duration_s=duration_s, seed=seed, think_s=think_s, ops_per_client=ops_per_client
        ),
        failures=(EngineError,),
    )


def summarize(
    system: str,
    consistency: str,
    history: History,
    check: CheckResult,
    staleness: StalenessReport,
    lost: Sequence[Operation],
    *,
    elapsed_s: float,
    faults: int,
    time_unit_ns: int = 1,
) -> EngineSummary:
    """The `EngineSummary` of a finished run (``time_unit_ns``: ns per history time unit)."""
    numbers = run_numbers(
        history, check, staleness, lost, elapsed_s=elapsed_s, time_unit_ns=time_unit_ns
    )
    return EngineSummary(system=system, consistency=consistency, **numbers, faults=faults)


def summary_rows(summaries: Iterable[Any]) -> list[dict[str, Any]]:
    """One dict per summary, from any object with the shared field names.

    Accepts `RunSummary` (as `EngineSummary` and `distlab.kv.workload.WorkloadSummary` are),
    any object with its field names (without ``system``: shown as "distlab"), or
    ``(label, summary)`` pairs, whose label replaces the system name.
    """
    rows = []
    for item in summaries:
        label, summary = item if isinstance(item, tuple) else (None, item)
        linearizable = getattr(summary, "linearizable", None)
        rows.append(
            {
                "system": label or getattr(summary, "system", "distlab"),
                "mode": getattr(summary, "consistency", "?"),
                "ops": summary.operations,
                "ok": summary.ok,
                "indefinite": summary.indefinite,
                "linearizable": {True: "yes", False: "NO", None: "unknown"}[linearizable],
                "stale reads": summary.stale_reads,
                "acked writes lost": summary.acknowledged_writes_lost,
                "p50 ms": round(summary.latency_p50_ms, 1),
                "faults": getattr(summary, "faults", 0),
            }
        )
    return rows


def summary_table(summaries: Iterable[Any]) -> str:
    """A plain-text table of `summary_rows` (one line per experiment)."""
    rows = summary_rows(summaries)
    if not rows:
        return "(no experiments)"
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    numeric = {c for c in columns if all(isinstance(r[c], (int, float)) for r in rows)}

    def cell(column: str, value: Any) -> str:
        text = str(value)
        return text.rjust(widths[column]) if column in numeric else text.ljust(widths[column])

    lines = ["  ".join(cell(c, c) for c in columns).rstrip()]
    lines.append("  ".join("-" * widths[c] for c in columns))
    lines += ["  ".join(cell(c, r[c]) for c in columns).rstrip() for r in rows]
    return "\n".join(lines)
