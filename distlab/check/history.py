"""Histories: what clients asked for, what they were told, and when.

A history is the raw material of every consistency check. Each client call is one
`Operation`: who called (client id), what (put / get / append on a key), when it was
invoked, when it completed, and how it ended:

- ``ok``   — it completed and the client saw its output;
- ``fail`` — it definitely did not happen (refused, not the leader): the checker drops it;
- ``info`` — indefinite: it timed out or the connection broke, so it may or may not have
  taken effect. The checker treats its completion time as +infinity and may leave it out.

`History` is also the thread-safe recorder a client wrapper uses::

    rec = history.invoke(client, "put", "x", "1")
    try:
        kv.put("x", "1")
        history.ok(rec)
    except RpcError as err:
        history.fail(rec) if err.definite else history.info(rec)

This module never checks anything and never does I/O except the explicit JSON Lines
export/import (format: docs/HISTORY_FORMAT.md). Time comes from an injectable clock
(``time.monotonic_ns`` by default, a virtual clock in simulations).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, replace
from math import isfinite
from pathlib import Path
from typing import IO, Literal

OpKind = Literal["put", "get", "append"]
Status = Literal["ok", "fail", "info"]

OP_KINDS: tuple[str, ...] = ("put", "get", "append")
STATUSES: tuple[str, ...] = ("ok", "fail", "info")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Operation:
    """One client call on one key.

    ``value`` is the argument (the value written by put, the suffix of append, None for
    get). ``output`` is what the client was told (the value read by get; None for
    put/append, and None when the outcome is unknown; a completed get's None reads as the
    empty value ""). Times are integers (nanoseconds from the recorder's clock, or any unit
    in hand-made histories) or floats (e.g. seconds, from another tool's file).
    ``complete`` is None only for an operation still pending when the history was taken;
    the checker treats it like ``info``.
    """

    id: int
    client: Hashable
    kind: OpKind
    key: str
    value: str | None
    output: str | None
    invoke: int
    complete: int | None
    status: Status

    def __post_init__(self) -> None:
        if self.kind not in OP_KINDS:
            raise ValueError(f"operation kind must be one of {OP_KINDS}, got {self.kind!r}")
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.complete is not None and self.complete < self.invoke:
            raise ValueError(
                f"operation {self.id} completes at {self.complete}, before its invocation "
                f"at {self.invoke}"
            )

    @property
    def ended(self) -> int:
        """The completion time of an operation that completed; ValueError if it is pending."""
        if self.complete is None:
            raise ValueError(f"operation {self.id} ({self.describe()}) has not completed")
        return self.complete

    @property
    def indefinite(self) -> bool:
        """True when the outcome is unknown (timed out, or still pending)."""
        return self.status == "info" or self.complete is None

    @property
    def is_write(self) -> bool:
        return self.kind != "get"

    def describe(self) -> str:
        """Short text such as ``put(x, '1')``, ``get(x) -> '1'`` or ``append(x, 'a')?``."""
        if self.kind == "get":
            shown = "?" if self.status != "ok" else repr(self.output)
            text = f"get({self.key}) -> {shown}"
        else:
            text = f"{self.kind}({self.key}, {self.value!r})"
        if self.status == "fail":
            text += " failed"
        elif self.indefinite:
            text += " (indefinite)"
        return text


@dataclass(frozen=True)
class PendingCall:
    """The handle `History.invoke` returns; pass it back to ok / fail / info."""

    index: int
    client: Hashable


@dataclass(frozen=True)
class HistoryStatistics:
    """Counts of a history's operations by outcome."""

    operations: int
    ok: int
    failed: int
    indefinite: int
    pending: int
    clients: int
    keys: int


class History:
    """A thread-safe recorder of client operations, and the resulting history.

    ``clock`` returns an integer timestamp; it defaults to ``time.monotonic_ns``. A client
    is sequential: it may have at most one operation outstanding, which is also what
    makes the JSON Lines form unambiguous (a completion closes its client's open call).

    ``time_unit_ns`` says how many nanoseconds one clock unit is, so explanations can
    print milliseconds: 1 for the default clock, None (unknown: print the raw numbers)
    for any other clock unless given, and for hand-made or imported histories.
    """

    def __init__(
        self, clock: Callable[[], int] | None = None, *, time_unit_ns: int | None = None
    ) -> None:
        self._clock = clock if clock is not None else time.monotonic_ns
        if clock is None and time_unit_ns is None:
            time_unit_ns = 1  # monotonic_ns
        self.time_unit_ns = time_unit_ns
        self._lock = threading.Lock()
        # Each slot is a list [client, kind, key, value, output, invoke, complete, status].
        self._slots: list[list] = []
        self._open: dict[Hashable, int] = {}

    # ----- the recorder API -----------------------------------------------------------

    def invoke(
        self, client: Hashable, kind: OpKind, key: str, value: str | None = None
    ) -> PendingCall:
        """Record that ``client`` starts ``kind(key, value)`` now; returns a handle."""
        if kind not in OP_KINDS:
            raise ValueError(f"operation kind must be one of {OP_KINDS}, got {kind!r}")
        if kind == "get" and value is not None:
            raise ValueError("get takes no value; pass value=None")
        if kind != "get" and value is None:
            raise ValueError(f"{kind} needs a value (the argument written)")
        with self._lock:
            if client in self._open:
                raise RuntimeError(
                    f"client {client!r} invoked a new operation while operation "
                    f"{self._open[client]} is still outstanding; a client is sequential "
                    "(complete it with ok/fail/info first, or use another client id)"
                )
            index = len(self._slots)
            self._slots.append([client, kind, key, value, None, self._clock(), None, None])
            self._open[client] = index
            return PendingCall(index, client)

    def ok(self, call: PendingCall, output: str | None = None) -> None:
        """The call completed; ``output`` is the value a get returned (None for writes)."""
        self._complete(call, "ok", output)

    def fail(self, call: PendingCall) -> None:
        """The call definitely did not take effect (refused, not the leader, ...)."""
        self._complete(call, "fail", None)

    def info(self, call: PendingCall) -> None:
        """The outcome is unknown (timeout, lost connection): it may or may not have happened."""
        self._complete(call, "info", None)

    def record(
        self,
        client: Hashable,
        kind: OpKind,
        key: str,
        value: str | None,
        call: Callable[[], str | None],
    ) -> str | None:
        """Run ``call()`` (the real client request) and record it; returns its result.

        An exception whose ``definite`` attribute is true (distlab's RpcError convention)
        is recorded as ``fail``; any other exception as ``info`` (it may have happened).
        The exception is re-raised either way.
        """
        pending = self.invoke(client, kind, key, value)
        try:
            result = call()
        except Exception as err:
            if getattr(err, "definite", False):
                self.fail(pending)
            else:
                self.info(pending)
            raise
        self.ok(pending, result if kind == "get" else None)
        return result

    def record_read(self, client: Hashable, key: str, read: Callable[[], str]) -> str:
        """Run ``read()`` (a get of ``key``) and record it; returns the value read. A read
        that failed, however it failed, is recorded as ``fail``: it changed nothing. The
        exception is re-raised."""
        pending = self.invoke(client, "get", key)
        try:
            value = read()
        except Exception:
            self.fail(pending)
            raise
        self.ok(pending, value)
        return value

    def _complete(self, call: PendingCall, status: Status, output: str | None) -> None:
        with self._lock:
            if self._open.get(call.client) != call.index:
                raise RuntimeError(
                    f"operation {call.index} of client {call.client!r} is not outstanding "
                    "(completed twice, or a handle from another history)"
                )
            slot = self._slots[call.index]
            if status == "ok" and slot[1] != "get" and output is not None:
                raise ValueError(f"{slot[1]} has no output; call ok(rec) without one")
            slot[4] = output
            slot[6] = self._clock()
            slot[7] = status
            del self._open[call.client]

    # ----- reading the history ----------------------------------------------------------

    def operations(self) -> list[Operation]:
        """Every operation so far, in invocation order; pending ones have status info."""
        with self._lock:
            slots = [list(s) for s in self._slots]
        return [
            Operation(
                id=i,
                client=s[0],
                kind=s[1],
                key=s[2],
                value=s[3],
                output=s[4],
                invoke=s[5],
                complete=s[6],
                status=s[7] if s[7] is not None else "info",
            )
            for i, s in enumerate(slots)
        ]

    def __len__(self) -> int:
        with self._lock:
            return len(self._slots)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.operations())

    @classmethod
    def from_operations(cls, operations: Iterable[Operation]) -> History:
        """Build a history from ready-made operations (hand-made tests, generators).

        Operations are renumbered in invocation order; each client must be sequential.
        """
        ops = sorted(operations, key=lambda o: (o.invoke, o.id))
        history = cls()
        history.time_unit_ns = None  # made by hand: its times are in no known unit
        last_end: dict[Hashable, float] = {}
        for op in ops:
            end = last_end.get(op.client)
            if end is not None and op.invoke <= end:
                raise ValueError(
                    f"client {op.client!r} has overlapping operations (one ends at {end}, "
                    f"the next starts at {op.invoke}); a client is sequential"
                )
            last_end[op.client] = float("inf") if op.complete is None else op.complete
            history._slots.append(
                [op.client, op.kind, op.key, op.value, op.output, op.invoke, op.complete, op.status]
            )
        return history

    def statistics(self) -> HistoryStatistics:
        """How many operations ended ok / failed / indefinite / are still pending."""
        ops = self.operations()
        pending = sum(o.complete is None for o in ops)
        return HistoryStatistics(
            operations=len(ops),
            ok=sum(o.status == "ok" for o in ops),
            failed=sum(o.status == "fail" for o in ops),
            indefinite=sum(o.status == "info" and o.complete is not None for o in ops),
            pending=pending,
            clients=len({o.client for o in ops}),
            keys=len({o.key for o in ops}),
        )

    # ----- JSON Lines (docs/HISTORY_FORMAT.md) ---------------------------------------------

    def events(self) -> list[dict]:
        """The history as a time-ordered list of invoke / ok / fail / info events."""
        raw: list[tuple[int, int, int, dict]] = []
        for op in self.operations():
            base = {"process": op.client, "f": op.kind, "key": op.key}
            raw.append(
                (
                    op.invoke,
                    0,
                    op.id,
                    {"type": "invoke", **base, "value": op.value, "time": op.invoke},
                )
            )
            if op.complete is None:
                continue  # still pending: no completion event (readers treat it as info)
            value = op.output if op.kind == "get" else op.value
            if op.status != "ok" and op.kind == "get":
                value = None
            raw.append(
                (
                    op.complete,
                    1,
                    op.id,
                    {"type": op.status, **base, "value": value, "time": op.complete},
                )
            )
        # Completions sort after invocations at the same instant: equal times count as
        # overlapping (see the checker), and a reader pairs each completion with its open call.
        raw.sort(key=lambda item: (item[0], item[1], item[2]))
        events = []
        for index, (_, _, _, event) in enumerate(raw):
            event["index"] = index
            events.append(event)
        return events

    def write_jsonl(self, target: str | Path | IO[str]) -> None:
        """Write the history as JSON Lines: a header line, then one event per line."""
        lines = [
            json.dumps({"type": "history", "format": "distlab-history", "version": FORMAT_VERSION})
        ]
        lines += [json.dumps(event, sort_keys=False) for event in self.events()]
        text = "\n".join(lines) + "\n"
        if isinstance(target, (str, Path)):
            Path(target).write_text(text, encoding="utf-8")
        else:
            target.write(text)

    def to_jsonl(self) -> str:
        """The JSON Lines text as a string."""
        import io

        buffer = io.StringIO()
        self.write_jsonl(buffer)
        return buffer.getvalue()

    @classmethod
    def read_jsonl(cls, source: str | Path | IO[str]) -> History:
        """Read a history written by `write_jsonl` (or by an outside tool in that format)."""
        if isinstance(source, (str, Path)):
            text = Path(source).read_text(encoding="utf-8")
        else:
            text = source.read()
        return cls.from_jsonl(text)

    @classmethod
    def from_jsonl(cls, text: str) -> History:
        """Parse JSON Lines text; each completion closes its process's open invocation."""
        history = cls()
        history.time_unit_ns = None  # another tool's times: no known unit
        open_calls: dict[Hashable, int] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"line {number}: not JSON ({err})") from None
            kind = event.get("type")
            if kind == "history":
                if event.get("version", FORMAT_VERSION) > FORMAT_VERSION:
                    raise ValueError(f"line {number}: history format version too new")
                continue
            try:
                process = event["process"]
                process = tuple(process) if isinstance(process, list) else process
                when = event["time"]
            except (KeyError, TypeError):
                raise ValueError(f"line {number}: an event needs 'process' and 'time'") from None
            # Kept exactly as written: truncating 1.6 s to 1 would make a stale read overlap
            # the write it missed. bool is an int to Python, but never a time.
            if isinstance(when, bool) or not isinstance(when, (int, float)) or not isfinite(when):
                raise ValueError(
                    f"line {number}: 'time' must be a finite number (an integer, or a float "
                    f"such as seconds), got {when!r}"
                )
            if kind == "invoke":
                if process in open_calls:
                    raise ValueError(
                        f"line {number}: process {process!r} invokes while its previous "
                        "operation is still open"
                    )
                f = event.get("f")
                if f not in OP_KINDS:
                    raise ValueError(f"line {number}: 'f' must be one of {OP_KINDS}, got {f!r}")
                open_calls[process] = len(history._slots)
                history._slots.append(
                    [process, f, str(event["key"]), event.get("value"), None, when, None, None]
                )
            elif kind in STATUSES:
                if process not in open_calls:
                    raise ValueError(
                        f"line {number}: {kind} event for process {process!r} with no open invoke"
                    )
                slot = history._slots[open_calls.pop(process)]
                if event.get("f", slot[1]) != slot[1] or str(event.get("key", slot[2])) != slot[2]:
                    raise ValueError(f"line {number}: completion does not match its invocation")
                if slot[1] == "get" and kind == "ok":
                    # null: the get read nothing, i.e. the empty value (HISTORY_FORMAT.md).
                    read = event.get("value")
                    slot[4] = "" if read is None else read
                slot[6] = when
                slot[7] = kind
            else:
                raise ValueError(f"line {number}: unknown event type {kind!r}")
        # Invocations never completed stay pending (complete None): indefinite, like info.
        return history

    def replace_outputs(self, changes: dict[int, str | None]) -> History:
        """A copy with some get outputs changed (used to inject anomalies in demos/tests)."""
        ops = self.operations()
        return History.from_operations(
            replace(op, output=changes[op.id]) if op.id in changes else op for op in ops
        )


def op(
    client: Hashable,
    kind: OpKind,
    key: str,
    value: str | None = None,
    *,
    start: int,
    end: int | None,
    output: str | None = None,
    status: Status = "ok",
) -> Operation:
    """A hand-made operation for `History.from_operations` (ids are assigned there).

    ``op(1, "put", "x", "1", start=0, end=10)`` or ``op(2, "get", "x", output="1", start=5,
    end=12)``; ``status="info"`` for a timed-out call (``end`` is when the client gave up,
    or None if it never heard back), ``status="fail"`` for a definite failure.
    """
    return Operation(
        id=-1,
        client=client,
        kind=kind,
        key=key,
        value=value,
        output=output,
        invoke=start,
        complete=end,
        status=status,
    )
