"""Measures for weak consistency (弱一致): how stale, how often, how soon it converges.

Linearizability gives a yes/no answer; a weakly consistent store fails it almost surely,
so these measures say *how far* from strong it is. They only count what real time proves.

Which write a read saw. Each completed get is matched to the write that produced its
output: a put of exactly that value, or an append whose suffix ends it; "" with no such
write is the initial value (a virtual write completed at -infinity). Workloads should write
unique values (distlab.check.generate and Jepsen-style tests do); with duplicates each read
gets the most charitable match. Failed writes never match; a read matching no write is
counted as unmatched.

- W *supersedes* V when V completed before W was invoked (real-time order of writes).
- Stale read: some completed write superseding the write V it saw completed before the
  read began. Staleness in versions: how many such writes it missed; staleness in time:
  the read's invocation minus the earliest completion among them (how long V had already
  been overwritten). A linearizable history has no stale reads.
- Read-your-writes violation: a client reads a key and sees a write superseded by one of
  its own earlier completed writes to that key (or the initial value after writing).
- Monotonic-read violation: a client sees a write superseded by one it saw before.
- Convergence after heal: given snapshots of every replica's whole store over time, the
  time from the heal until all replicas hold identical data and keep holding it.

Pure functions over histories and snapshots; no clock, no I/O.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from distlab.check.history import History, Operation


@dataclass(frozen=True)
class StaleRead:
    """One read that returned an older version than real time required."""

    op: Operation
    writer: Operation | None  # the write whose value it returned (None: the initial "")
    staleness_versions: int  # completed writes superseding that one it should have seen
    staleness_time: int


@dataclass(frozen=True)
class StalenessReport:
    """Weak-consistency measures of one history (see the module docstring)."""

    reads: int
    matched_reads: int
    unmatched_reads: int
    stale_reads: int
    stale_rate: float  # stale_reads / matched_reads (0.0 when there are none)
    max_staleness_versions: int
    mean_staleness_versions: float  # over stale reads
    max_staleness_time: int
    mean_staleness_time: float  # over stale reads
    read_your_writes_violations: dict[Hashable, int]  # per client, only clients with > 0
    monotonic_read_violations: dict[Hashable, int]
    examples: tuple[StaleRead, ...]  # the first few stale reads, in invocation order

    def __str__(self) -> str:
        """A readable summary (times in the history's own units)."""
        lines = [
            f"{self.stale_reads} stale of {self.matched_reads} reads matched to a write "
            f"({self.stale_rate:.1%}); {self.unmatched_reads} matched no write",
        ]
        if self.stale_reads:
            lines.append(
                f"  missed versions: mean {self.mean_staleness_versions:.1f}, "
                f"max {self.max_staleness_versions}; out of date by: mean "
                f"{self.mean_staleness_time:.1f}, max {self.max_staleness_time}"
            )
        for name, counts in (
            ("read-your-writes", self.read_your_writes_violations),
            ("monotonic-read", self.monotonic_read_violations),
        ):
            total = sum(counts.values())
            lines.append(f"  {name} violations: {total} (by {len(counts)} client(s))")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))


_INITIAL = None  # stands for the virtual write of the initial value ""
_NEG_INF = float("-inf")
_POS_INF = float("inf")


def _end(write: Operation | None) -> float:
    if write is None:
        return _NEG_INF
    return _POS_INF if write.indefinite else write.complete  # type: ignore[return-value]


def _start(write: Operation | None) -> float:
    return _NEG_INF if write is None else write.invoke


def _writers_of(output: str, writes: list[Operation]) -> list[Operation | None]:
    found: list[Operation | None] = [
        w
        for w in writes
        if (w.kind == "put" and w.value == output)
        or (w.kind == "append" and w.value and output.endswith(w.value))
    ]
    if output == "":
        found.append(_INITIAL)
    return found


def measure_staleness(history: History | Iterable[Operation], examples: int = 5) -> StalenessReport:
    """Stale-read rate, staleness, and per-client session violations of ``history``."""
    ops = history.operations() if isinstance(history, History) else list(history)
    by_key: dict[str, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    stale: list[StaleRead] = []
    reads = unmatched = 0
    ryw: dict[Hashable, int] = {}
    monotonic: dict[Hashable, int] = {}
    for key_ops in by_key.values():
        writes = [w for w in key_ops if w.is_write and w.status != "fail"]
        done = sorted((w for w in writes if not w.indefinite), key=lambda w: w.ended)
        completes = [w.ended for w in done]
        newest_seen_start: dict[Hashable, float] = {}  # client -> latest start of a seen write
        for op in sorted(key_ops, key=lambda o: (o.invoke, o.id)):
            if op.kind != "get" or op.status != "ok" or op.complete is None:
                continue
            reads += 1
            candidates = _writers_of(op.output or "", writes)
            if not candidates:
                unmatched += 1
                continue
            # Writes completed before the read began: it had to see them (or later ones).
            must_see = done[: bisect_left(completes, op.invoke)]

            def missed(v: Operation | None, must_see=must_see) -> list[Operation]:
                end_v = _end(v)
                return [w for w in must_see if w.invoke > end_v]

            v = min(candidates, key=lambda c: len(missed(c)))
            lost = missed(v)
            if lost:
                stale.append(
                    StaleRead(
                        op=op,
                        writer=v,
                        staleness_versions=len(lost),
                        staleness_time=op.invoke - min(w.ended for w in lost),
                    )
                )
            # Own completed writes that supersede what it saw are among the ones it missed.
            if any(w.client == op.client for w in lost):
                ryw[op.client] = ryw.get(op.client, 0) + 1
            # u (seen earlier) supersedes v iff v ended before u began.
            if _end(v) < newest_seen_start.get(op.client, _NEG_INF):
                monotonic[op.client] = monotonic.get(op.client, 0) + 1
            newest_seen_start[op.client] = max(
                newest_seen_start.get(op.client, _NEG_INF), _start(v)
            )
    stale.sort(key=lambda s: (s.op.invoke, s.op.id))
    matched = reads - unmatched
    return StalenessReport(
        reads=reads,
        matched_reads=matched,
        unmatched_reads=unmatched,
        stale_reads=len(stale),
        stale_rate=len(stale) / matched if matched else 0.0,
        max_staleness_versions=max((s.staleness_versions for s in stale), default=0),
        mean_staleness_versions=(
            sum(s.staleness_versions for s in stale) / len(stale) if stale else 0.0
        ),
        max_staleness_time=max((s.staleness_time for s in stale), default=0),
        mean_staleness_time=sum(s.staleness_time for s in stale) / len(stale) if stale else 0.0,
        read_your_writes_violations=ryw,
        monotonic_read_violations=monotonic,
        examples=tuple(stale[:examples]),
    )


@dataclass(frozen=True)
class ReplicaSnapshot:
    """What one replica held at one instant: its whole key -> value map."""

    time: int
    replica: Hashable
    data: Mapping[str, str]


def convergence_time(snapshots: Iterable[ReplicaSnapshot], heal_time: int) -> int | None:
    """Time from ``heal_time`` until all replicas agree for good; None if they never do.

    Snapshots are taken of every replica over time (any order, any rate). At each snapshot
    instant t, each replica is represented by its latest snapshot at or before t. The
    replicas have converged at t when every replica has a snapshot taken at or after
    ``heal_time`` and all latest snapshots hold identical data — and that stays true at
    every later snapshot. Returns t - heal_time for the earliest such t (0 if they agree
    at the first snapshot after the heal).
    """
    ordered = sorted(snapshots, key=lambda s: s.time)
    replicas = {s.replica for s in ordered}
    if not replicas:
        raise ValueError("convergence_time needs at least one snapshot")
    latest: dict[Hashable, ReplicaSnapshot] = {}
    converged_at: int | None = None
    for snapshot in ordered:
        latest[snapshot.replica] = snapshot
        agree = (
            len(latest) == len(replicas)
            and all(s.time >= heal_time for s in latest.values())
            and len({tuple(sorted(s.data.items())) for s in latest.values()}) == 1
        )
        if agree and converged_at is None:
            converged_at = snapshot.time
        elif not agree:
            converged_at = None
    return None if converged_at is None else converged_at - heal_time
