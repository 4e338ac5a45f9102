"""Checking a coordination service: ZooKeeper's guarantees, which are not linearizability.

ZooKeeper promises less than a linearizable store, and this module checks exactly that:

1. **Linearizable writes** (线性一致的写): every acknowledged write has a zxid, its place in
   one total order, and that order respects real time -- a write that completed before
   another began has the smaller zxid.
2. **FIFO client order** (先进先出客户端顺序): each client's operations see zxids that never go
   back (and its writes get increasing ones): a client never reads older than what it wrote
   or read before.
3. **Reads answer a real state**: a read at zxid z returns the znode's data after exactly the
   writes with zxid <= z. It may be *stale* -- older than a write that completed before the
   read began, on another client -- which a linearizable store forbids; this module counts
   those instead of failing them (`CoordVerdict.stale_reads`).

And for the lock recipes, **mutual exclusion with fencing tokens** (`check_fenced_writes`): a
protected resource that accepts a write from a holder whose token is older than one it has
already seen lets two holders act at once.

What it must never do: import a system; records are plain data (`CoordHistory` is filled by
`distlab.coord.CoordClient`, or by hand).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import cast

from distlab.check.history import History, Operation, Status

__all__ = [
    "CoordHistory",
    "CoordOp",
    "CoordVerdict",
    "FencedWrite",
    "check_coordination",
    "check_fenced_writes",
    "to_kv_history",
]

WRITE_KINDS = ("create", "set", "delete", "sync")
CHANGES = ("create", "set", "delete")  # writes with a zxid of their own (ZooKeeper's sync has none)
READ_KINDS = ("get", "exists", "get_children")


@dataclass(frozen=True)
class CoordOp:
    """One client call. ``value`` is the data written (create/set), ``output`` the data read
    (None for a missing znode); ``zxid`` the point of the history the answer came from."""

    id: int
    client: Hashable
    kind: str
    path: str
    value: str | None
    output: str | None
    zxid: int | None
    invoke: int
    complete: int | None
    status: str  # "ok" | "fail" (definitely no effect) | "info" (may have happened)

    def describe(self) -> str:
        shown = {"ok": "", "fail": " failed", "info": " (indefinite)"}[self.status]
        at = f" @{self.zxid}" if self.zxid is not None else ""
        if self.kind in READ_KINDS:
            return f"{self.client}: {self.kind}({self.path}) -> {self.output!r}{at}{shown}"
        return f"{self.client}: {self.kind}({self.path}, {self.value!r}){at}{shown}"


class CoordHistory:
    """A thread-safe recorder of coordination calls (one outstanding call per client)."""

    def __init__(self, clock: Callable[[], int] | None = None) -> None:
        self._clock = clock or time.monotonic_ns
        self._lock = threading.Lock()
        self._ops: list[list] = []

    def invoke(self, client: Hashable, kind: str, path: str, value: str | None = None) -> int:
        """Record the start of a call; returns its handle."""
        if kind not in WRITE_KINDS + READ_KINDS:
            raise ValueError(f"unknown kind {kind!r}")
        with self._lock:
            self._ops.append([client, kind, path, value, None, None, self._clock(), None, None])
            return len(self._ops) - 1

    def complete(
        self, handle: int, status: str, *, output: str | None = None, zxid: int | None = None
    ) -> None:
        """Record the end of a call: "ok" (with the data read and the answer's zxid),
        "fail" (definitely no effect, e.g. a ZooKeeper error) or "info" (unknown)."""
        if status not in ("ok", "fail", "info"):
            raise ValueError(f"status must be ok, fail or info, not {status!r}")
        with self._lock:
            slot = self._ops[handle]
            if slot[8] is not None:
                raise RuntimeError(f"operation {handle} completed twice")
            slot[4], slot[5], slot[7], slot[8] = output, zxid, self._clock(), status

    def operations(self) -> list[CoordOp]:
        """Every call so far, in invocation order (pending ones as "info")."""
        with self._lock:
            slots = [list(s) for s in self._ops]
        return [
            CoordOp(
                id=i,
                client=s[0],
                kind=s[1],
                path=s[2],
                value=s[3],
                output=s[4],
                zxid=s[5],
                invoke=s[6],
                complete=s[7],
                status=s[8] or "info",
            )
            for i, s in enumerate(slots)
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._ops)


@dataclass(frozen=True)
class CoordVerdict:
    """The verdict on a history: each guarantee, and the stale reads (allowed) counted."""

    writes_linearizable: bool
    fifo_client_order: bool
    reads_match_a_state: bool
    stale_reads: int
    operations: int
    problems: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """All three of ZooKeeper's guarantees hold (stale reads are allowed)."""
        return self.writes_linearizable and self.fifo_client_order and self.reads_match_a_state


def check_coordination(history: CoordHistory | Iterable[CoordOp]) -> CoordVerdict:
    """Judge a history against ZooKeeper's guarantees (see the module docstring)."""
    ops = history.operations() if isinstance(history, CoordHistory) else list(history)
    problems: list[str] = []
    done = [op for op in ops if op.status == "ok" and op.zxid is not None]
    writes = [op for op in done if op.kind in CHANGES]

    # 1. Linearizable writes: distinct zxids, in real-time order.
    writes_ok = True
    by_zxid: dict[int, CoordOp] = {}
    for op in writes:
        assert op.zxid is not None
        if op.zxid in by_zxid:
            writes_ok = False
            problems.append(f"two writes at zxid {op.zxid}: {op.describe()}")
        by_zxid[op.zxid] = op
    ordered = sorted(writes, key=lambda op: op.complete or 0)
    for a in ordered:
        for b in writes:
            if a.complete is not None and a.complete < b.invoke and a.zxid >= b.zxid:  # type: ignore[operator]
                writes_ok = False
                problems.append(f"{a.describe()} finished before {b.describe()} began")
                break

    # 2. FIFO client order: per client, zxids never go back; writes move forward.
    fifo_ok = True
    last: dict[Hashable, tuple[int, CoordOp]] = {}
    for op in sorted(done, key=lambda op: op.invoke):
        assert op.zxid is not None
        seen = last.get(op.client)
        if seen is not None:
            went_back = op.zxid < seen[0] or (op.kind in CHANGES and op.zxid == seen[0])
            if went_back:
                fifo_ok = False
                problems.append(f"{op.describe()}, after the client had seen zxid {seen[0]}")
        last[op.client] = (max(op.zxid, seen[0] if seen else 0), op)

    # 3. Each read returns the data after exactly the writes up to its zxid.
    reads_ok = True
    stale = 0
    maybe_values: dict[str, set[str | None]] = {}
    for op in ops:
        if op.kind in ("create", "set") and op.status == "info":
            maybe_values.setdefault(op.path, set()).add(op.value)
        if op.kind == "delete" and op.status == "info":
            maybe_values.setdefault(op.path, set()).add(None)
    changes: dict[str, list[tuple[int, str | None]]] = {}
    for op in sorted(writes, key=lambda op: op.zxid or 0):
        if op.kind in ("create", "set", "delete"):
            value = None if op.kind == "delete" else op.value
            changes.setdefault(op.path, []).append((op.zxid or 0, value))
    for op in done:
        if op.kind != "get" or op.path not in changes:
            continue  # a znode no recorded call wrote (an ephemeral one, say) is not judged
        assert op.zxid is not None
        history_of = changes[op.path]
        expected = None
        for zxid, value in history_of:
            if zxid <= op.zxid:
                expected = value
        if op.output != expected and op.output not in maybe_values.get(op.path, set()):
            reads_ok = False
            problems.append(f"{op.describe()}, but at zxid {op.zxid} it was {expected!r}")
        # Stale: a write to this path completed (anywhere) before the read began, with a
        # larger zxid than the read's -- ZooKeeper allows it, linearizability does not.
        if any(
            w.path == op.path and (w.complete or 0) < op.invoke and (w.zxid or 0) > op.zxid
            for w in writes
        ):
            stale += 1
    return CoordVerdict(writes_ok, fifo_ok, reads_ok, stale, len(ops), tuple(problems[:20]))


def to_kv_history(history: CoordHistory | Iterable[CoordOp]) -> History:
    """The same calls as a KV `History` (set/create -> put, get -> get; a missing znode reads
    ""), for `distlab.check.check_linearizable`: the strong store's yardstick."""
    ops = history.operations() if isinstance(history, CoordHistory) else list(history)
    kept = [op for op in ops if op.kind in ("create", "set", "get") and op.status != "fail"]
    converted = [
        Operation(
            id=i,
            client=op.client,
            kind="get" if op.kind == "get" else "put",
            key=op.path,
            value=None if op.kind == "get" else (op.value or ""),
            output=(op.output or "") if op.kind == "get" and op.status == "ok" else None,
            invoke=op.invoke,
            complete=op.complete,
            status=cast(Status, op.status),
        )
        for i, op in enumerate(kept)
    ]
    return History.from_operations(converted)


@dataclass(frozen=True)
class FencedWrite:
    """A write a lock holder made to the protected resource, with its fencing token."""

    client: Hashable
    token: int
    accepted: bool


def check_fenced_writes(writes: Iterable[FencedWrite]) -> list[str]:
    """Writes the resource accepted from a holder whose token was older than one it had
    already accepted: each is a moment two holders acted at once (empty: mutual exclusion)."""
    problems = []
    newest: FencedWrite | None = None
    for write in writes:
        if not write.accepted:
            continue
        if newest is not None and write.token < newest.token:
            problems.append(
                f"{write.client} wrote with token {write.token} after {newest.client} "
                f"wrote with token {newest.token}"
            )
        if newest is None or write.token >= newest.token:
            newest = write
    return problems
