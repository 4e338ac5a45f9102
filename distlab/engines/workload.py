"""Concurrent clients against a real engine, recorded into one History; then the numbers.

`run_clients` starts one thread per `ClientSpec`. Each client is sequential (one call at a
time, as the checker requires), bound to one member (or to "whoever is primary now"), and
issues a seeded mix of ``get``, ``put`` and ``append`` on a few keys until the time is up.
Written values are unique (``<client>.<n>`` for a put, ``<client>.<n>;`` appended), so every
value read names the writes it contains, and an acknowledged append that vanished can be
spotted in the final value.

Every call goes through `History.record`: ``ok`` with the value read, ``fail`` when the
engine error is definite (connection refused, rejected), ``info`` otherwise (timed out:
it may have happened).

`summarize` turns a finished run into an `EngineSummary`, which is
`distlab.check.outcome.RunSummary`, the summary `distlab.kv.workload` returns too, so the
rows of one table can come from distlab's own store and from etcd or Redis; the numbers
themselves and `lost_acknowledged_writes` come from `distlab.check.outcome` (re-exported
here).

Never starts processes (the caller brings the engine); never prints.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult
from distlab.check.outcome import RunSummary, lost_acknowledged_writes, run_numbers
from distlab.check.staleness import StalenessReport
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


EngineSummary = RunSummary
"""The summary of an engine experiment: `distlab.check.outcome.RunSummary` (one class for
every workload, so rows from etcd, Redis and distlab's own store share one table)."""


def run_clients(
    specs: Sequence[ClientSpec],
    history: History,
    *,
    duration_s: float,
    keys: Sequence[str],
    seed: int,
    think_s: tuple[float, float] = (0.0, 0.01),
) -> None:
    """Run every client for ``duration_s`` seconds, recording into ``history``."""
    stop_at = time.monotonic() + duration_s
    errors: list[BaseException] = []

    def loop(spec: ClientSpec) -> None:
        rng = random.Random(f"{seed}-{spec.client_id}")
        client = spec.connect()
        n = 0
        try:
            while time.monotonic() < stop_at:
                n += 1
                key = rng.choice(list(keys))
                roll = rng.random()
                try:
                    if roll < spec.get_fraction:
                        history.record(
                            spec.client_id, "get", key, None, lambda k=key, c=client: c.get(k)
                        )
                    elif roll < spec.get_fraction + spec.put_fraction:
                        value = f"{spec.client_id}.{n}"
                        history.record(
                            spec.client_id,
                            "put",
                            key,
                            value,
                            lambda k=key, v=value, c=client: c.put(k, v),
                        )
                    else:
                        suffix = f"{spec.client_id}.{n};"
                        history.record(
                            spec.client_id,
                            "append",
                            key,
                            suffix,
                            lambda k=key, s=suffix, c=client: c.append(k, s),
                        )
                except EngineError:
                    if spec.reconnect:
                        client.close()
                        client = spec.connect()
                    time.sleep(0.02)  # do not spin against a member that is down
                pause = rng.uniform(*think_s)
                if pause > 0:
                    time.sleep(pause)
        except BaseException as error:  # a bug, not an engine failure: report it
            errors.append(error)
        finally:
            client.close()

    threads = [
        threading.Thread(target=loop, args=(spec,), name=f"client-{spec.client_id}", daemon=True)
        for spec in specs
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration_s + 60)
    if errors:
        raise errors[0]


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
