"""What a finished run amounts to: acknowledged writes lost, and the one summary of a run.

Two workloads produce histories against very different stores — distlab's own replicated KV
(`distlab.kv.workload`) and real engines such as etcd and Redis
(`distlab.engines.workload`) — yet their tables must be comparable row by row. So the
definitions live here, once, at the level of a `History`:

- :func:`lost_acknowledged_writes`: an acked write ``w`` on key ``k`` is lost when the final
  value of ``k`` bears no trace of it (for a put: the value does not start with ``w``'s
  value; for an append: its suffix is not in the value) *and* no put on ``k`` could have
  overwritten it — a put overwrites ``w`` only if it might be ordered after ``w``, i.e. it
  did not complete before ``w`` was invoked (failed puts never happened and do not count).
  A lower bound: it never accuses a correct store.
- :func:`run_numbers`: operation counts, the checker's verdict, staleness, latency
  percentiles and throughput, as keyword arguments of :class:`RunSummary`.
- :class:`RunSummary`: the numbers of one run, the row of a table. Both workloads return
  it (``distlab.kv.workload.WorkloadSummary`` and ``distlab.engines.EngineSummary`` are
  other names for it), so one table holds rows from distlab's store, etcd and Redis.
- :func:`judge_run`: a finished history and its final values -> the checker's result,
  staleness, the lost writes and the `RunSummary`: the verdict every runner computes (the
  threaded one in `distlab.check.workload`, the simulator's in `distlab.sim.kv_sim`).

Pure: no clocks, sockets or processes; it only reads what a run recorded (the checker's
search is bounded by its own ``check_timeout_s``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from distlab.check.history import History, Operation
from distlab.check.linearizability import CheckResult, check_linearizable
from distlab.check.staleness import StalenessReport, measure_staleness

__all__ = [
    "Judgement",
    "RunSummary",
    "judge_run",
    "lost_acknowledged_writes",
    "percentile",
    "run_numbers",
]

# Measured only by some runs (weak replicas converging after the heal); a repr leaves them
# out while they are None, so an engine's summary prints as it always did.
_ONLY_WHEN_MEASURED = ("converged", "convergence_s")


@dataclass(frozen=True, repr=False)
class RunSummary:
    """The numbers of one run (what a table, a widget or a test looks at).

    ``system`` names the store ("distlab", "etcd", "redis"), ``consistency`` its mode
    ("strong", "linearizable reads", ...). The numbers between come from `run_numbers`.
    ``faults`` counts the faults the nemesis performed (failed attempts are not faults).
    ``converged``/``convergence_s``: did weak replicas agree after the heal, and how long
    after it (None where nothing was measured: strong and quorum modes, engines).
    """

    system: str
    consistency: str
    operations: int
    ok: int
    failed: int
    indefinite: int
    verdict: str  # the checker's: "ok" | "violation" | "unknown"
    linearizable: bool | None
    acknowledged_writes_lost: int
    stale_reads: int
    stale_rate: float
    latency_p50_ms: float
    latency_p99_ms: float
    throughput_ops_s: float
    faults: int
    converged: bool | None = None
    convergence_s: float | None = None

    def __repr__(self) -> str:
        shown = (
            f"{field.name}={getattr(self, field.name)!r}"
            for field in fields(self)
            if not (field.name in _ONLY_WHEN_MEASURED and getattr(self, field.name) is None)
        )
        return f"{type(self).__name__}({', '.join(shown)})"

    def __str__(self) -> str:
        """The run as a learner reads it: a few labelled lines, numbers rounded."""
        verdict = {True: "True", False: "False", None: "unknown (the checker ran out of time)"}
        lines = [
            f"{self.system} ({self.consistency}): {self.operations} operations, "
            f"{self.faults} fault(s) injected",
            f"  answered ok {self.ok} · failed {self.failed} · indefinite {self.indefinite}",
            f"  latency p50 {self.latency_p50_ms:.1f} ms · p99 {self.latency_p99_ms:.1f} ms · "
            f"{self.throughput_ops_s:.0f} ops/s",
            f"  linearizable: {verdict[self.linearizable]}",
            f"  stale reads: {self.stale_reads} ({self.stale_rate:.1%} of the reads matched "
            "to a write)",
            f"  acknowledged writes lost: {self.acknowledged_writes_lost}",
        ]
        if self.converged is not None:
            after = f" ({self.convergence_s:.2f} s after the heal)" if self.convergence_s else ""
            lines.append(f"  replicas converged after the heal: {self.converged}{after}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows the readable form when a cell ends with a summary."""
        printer.text(str(self))


def lost_acknowledged_writes(
    history: History | Iterable[Operation], final_state: Mapping[str, str]
) -> list[Operation]:
    """Acknowledged writes whose effect is missing from ``final_state`` (module docstring)."""
    ops = history.operations() if isinstance(history, History) else list(history)
    lost = []
    for w in ops:
        if w.kind == "get" or w.status != "ok":
            continue
        final, value = final_state.get(w.key, ""), w.value or ""
        if (w.kind == "put" and final.startswith(value)) or (w.kind == "append" and value in final):
            continue
        overwritten = any(
            p.kind == "put"
            and p.key == w.key
            and p.id != w.id
            and p.status != "fail"
            and (p.complete is None or p.complete >= w.invoke)
            for p in ops
        )
        if not overwritten:
            lost.append(w)
    return lost


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of ``sorted_values`` (nearest rank; 0.0 if empty)."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def run_numbers(
    history: History,
    check: CheckResult,
    staleness: StalenessReport,
    lost: Sequence[Operation],
    *,
    elapsed_s: float,
    time_unit_ns: int = 1,
) -> dict[str, Any]:
    """The summary fields every workload reports, by name (``time_unit_ns``: ns per
    history time unit). Pass them on with ``RunSummary(**run_numbers(...), ...)``."""
    stats = history.statistics()
    latencies = sorted(
        (op.complete - op.invoke) * time_unit_ns / 1e6
        for op in history.operations()
        if op.status == "ok" and op.complete is not None
    )
    return {
        "operations": stats.operations,
        "ok": stats.ok,
        "failed": stats.failed,
        "indefinite": stats.indefinite + stats.pending,
        "verdict": check.verdict,
        "linearizable": check.linearizable,
        "acknowledged_writes_lost": len(lost),
        "stale_reads": staleness.stale_reads,
        "stale_rate": staleness.stale_rate,
        "latency_p50_ms": percentile(latencies, 0.5),
        "latency_p99_ms": percentile(latencies, 0.99),
        "throughput_ops_s": stats.ok / elapsed_s if elapsed_s > 0 else 0.0,
    }


@dataclass(frozen=True)
class Judgement:
    """What `judge_run` found."""

    check: CheckResult
    staleness: StalenessReport
    lost_writes: list[Operation]
    summary: RunSummary


def judge_run(
    history: History,
    final_state: Mapping[str, str],
    *,
    system: str,
    consistency: str,
    elapsed_s: float,
    faults: int,
    check_timeout_s: float = 20.0,
    time_unit_ns: int = 1,
    converged: bool | None = None,
    convergence_s: float | None = None,
    key_names: Mapping[str, str] | None = None,
) -> Judgement:
    """Judge a finished run: check linearizability (within ``check_timeout_s``), measure
    staleness, find the acknowledged writes ``final_state`` lost, and sum it up.

    ``time_unit_ns`` (0: the clock counts events, not time) and ``key_names`` (stored key
    -> the learner's name) shape the checker's explanation: milliseconds since the start,
    and the learner's keys."""
    check = check_linearizable(
        history,
        timeout_s=check_timeout_s,
        time_unit_ns=time_unit_ns or None,
        key_names=key_names,
    )
    staleness = measure_staleness(history)
    lost = lost_acknowledged_writes(history, final_state)
    summary = RunSummary(
        system=system,
        consistency=consistency,
        **run_numbers(
            history, check, staleness, lost, elapsed_s=elapsed_s, time_unit_ns=time_unit_ns
        ),
        faults=faults,
        converged=converged,
        convergence_s=convergence_s,
    )
    return Judgement(check, staleness, lost, summary)
