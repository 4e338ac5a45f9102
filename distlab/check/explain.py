"""Explanations: turn a checker verdict into sentences a learner can follow.

For a violation we want a small witness, not the whole history. Two sources:

1. Sound rules for the KV model. The *possible sources* of a value v read by a get are the
   non-failed writes that could have set the key to v last: a put of exactly v, or an
   append whose suffix ends v (and, for "", the initial state). In any linearization one of
   them is the last write before the get. Each rule, when it fires, proves the history is
   not linearizable:
   - *never written*: v has no possible source (perhaps only a failed put wrote it);
   - *stale read*: a write completed before the get began and began after every possible
     source of v had completed — so it sits between the source and the get;
   - *reads going back in time*: an earlier get (completed before this one began) returned
     another value, yet every possible source of v completed before that earlier get began
     — so the earlier get should have returned v as well.
2. Otherwise the search's own evidence: the longest linearizable prefix it found and the
   operation that could not be placed after it.

What a learner reads: a `Display` shows times as milliseconds since the history began (when
the clock's unit is known; hand-made histories keep their own numbers) and keys by the
learner's names (a workload stores ``s8r2.k0`` for ``k0``).

Pure functions of the history and the search results; no I/O, no checking of their own
beyond the rules above.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field

from distlab.check.history import Operation
from distlab.check.models import KVModel, Model


@dataclass(frozen=True)
class Display:
    """How an explanation shows times and keys to a learner.

    ``time_unit_ns`` (nanoseconds per history time unit) turns times into milliseconds
    since ``origin`` (the history's first invocation): ``[1621.0, 1622.1] ms``. None
    keeps the history's own numbers as they are (hand-made histories count from 0).
    ``key_names`` maps a stored key to the name the learner used (a workload stores
    ``s8r2.k0`` for the learner's ``k0``); keys not in it are shown as stored.
    """

    origin: float = 0
    time_unit_ns: float | None = None
    key_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def for_history(
        cls,
        ops: Sequence[Operation],
        time_unit_ns: float | None = None,
        key_names: Mapping[str, str] | None = None,
    ) -> Display:
        """Times relative to the first invocation in ``ops`` (when the unit is known)."""
        origin = min((op.invoke for op in ops), default=0) if time_unit_ns else 0
        return cls(origin, time_unit_ns or None, dict(key_names or {}))

    def key(self, key: str) -> str:
        return self.key_names.get(key, key)

    def _number(self, t: float, decimals: int = 1) -> str:
        if self.time_unit_ns is None:
            return str(t)
        return f"{(t - self.origin) * self.time_unit_ns / 1e6:.{decimals}f}"

    @property
    def _unit(self) -> str:
        return "" if self.time_unit_ns is None else " ms"

    def time(self, t: float) -> str:
        """One instant: ``20`` or ``1595.0 ms``."""
        return self._number(t) + self._unit

    def before(self, earlier: float, later: float) -> str:
        """``20 < 21`` or ``1595.0 < 1595.2 ms``, with enough decimals to tell them apart."""
        for decimals in (1, 2, 3, 6):
            a, b = self._number(earlier, decimals), self._number(later, decimals)
            if a != b:
                break
        return f"{a} < {b}{self._unit}"

    def span(self, op: Operation) -> str:
        """An operation's interval: ``[21, 30]``, ``[1621.0, 1622.1] ms``, or open-ended."""
        if op.indefinite:
            return f"[{self.time(op.invoke)}, ∞ (indefinite)]"
        assert op.complete is not None
        return f"[{self._number(op.invoke)}, {self._number(op.complete)}]{self._unit}"

    def describe(self, op: Operation) -> str:
        """`Operation.describe` with the learner's key name."""
        shown = self.key(op.key)
        return op.describe().replace(f"({op.key}", f"({shown}", 1)


PLAIN = Display()
"""Times and keys exactly as stored."""


def _client(op: Operation) -> str:
    return f"client {op.client}"


def _ends_before(a: Operation, t: int) -> bool:
    return not a.indefinite and a.complete < t  # type: ignore[operator]


def _sources(ops: Sequence[Operation], value: str, *, failed: bool = False) -> list[Operation]:
    """Writes that could have set the key to ``value`` last (failed ones if ``failed``)."""
    return [
        w
        for w in ops
        if w.is_write
        and (w.status == "fail") == failed
        and (w.value == value if w.kind == "put" else value.endswith(w.value or ""))
    ]


def _who(op: Operation, show: Display) -> str:
    return f"{op.kind}({show.key(op.key)}, {op.value!r}) by {_client(op)} during {show.span(op)}"


def _rule_witness(
    ops: Sequence[Operation], read: Operation, show: Display = PLAIN
) -> tuple[str, list[Operation]] | None:
    """Try the sound rules on one completed get. None if none fires."""
    key, seen = show.key(read.key), read.output or ""
    sources = _sources(ops, seen)
    initial = seen == ""  # the initial state is a possible source too (completed at -inf)
    get_text = f"get({key}) by {_client(read)} returned {seen!r} during {show.span(read)}"
    if not sources and not initial:
        failed = _sources(ops, seen, failed=True)
        if failed:
            return (
                f"{get_text}, but the only write that could produce it — {_who(failed[0], show)} — "
                "failed definitely (it did not happen), so no correct store could return it.",
                [read, failed[0]],
            )
        return f"{get_text}, but no write could have produced {seen!r}.", [read]

    def after_all_sources(t: int) -> bool:
        return all(_ends_before(v, t) for v in sources)

    if initial and not sources:
        origin, shown = "the initial value: nothing wrote it", []
    elif len(sources) == 1 and not initial:
        origin, shown = f"last written by {_who(sources[0], show)}", sources[:1]
    else:
        origin, shown = f"{len(sources) + initial} possible sources", []
    # Stale read: a write completed before the read began, after every source completed.
    newer = [
        w
        for w in ops
        if w.is_write
        and w.status == "ok"
        and w not in sources
        and _ends_before(w, read.invoke)
        and after_all_sources(w.invoke)
    ]
    if newer:
        w = max(newer, key=lambda op: (op.complete, op.id))
        after = "" if not sources else ", after every write that could produce it had completed"
        should_see = (
            f"{w.value!r} or a later value."
            if w.kind == "put"
            else f"a value with {w.value!r} appended, or a later one."
        )
        return (
            f"{get_text} ({origin}), but {w.kind}({key}, {w.value!r}) by {_client(w)} completed "
            f"at {show.before(w.ended, read.invoke)}{after} — so the read should have seen "
            f"{should_see} This is a stale read.",
            [read, w, *shown],
        )
    # Reads going back in time.
    earlier = [
        r
        for r in ops
        if r.kind == "get"
        and r.status == "ok"
        and r.output != read.output
        and _ends_before(r, read.invoke)
        and after_all_sources(r.invoke)
    ]
    if earlier:
        r = max(earlier, key=lambda op: (op.complete, op.id))
        return (
            f"Reads went back in time: get({key}) by {_client(r)} returned {r.output!r} during "
            f"{show.span(r)}; later, {get_text} ({origin}). Every write that could produce "
            f"{seen!r} had completed before the first read began, so once {r.output!r} was "
            f"visible, {seen!r} could not come back.",
            [r, read, *shown],
        )
    return None


def explain_violation(
    ops: Sequence[Operation],
    prefix: Sequence[int],
    prefix_state: Hashable,
    stuck: int | None,
    model: Model,
    show: Display = PLAIN,
) -> tuple[str, list[Operation]]:
    """Words and witness operations for one key whose search found no linearization."""
    by_id = {op.id: op for op in ops}
    stuck_op = by_id.get(stuck) if stuck is not None else None
    if isinstance(model, KVModel):
        gets = [op for op in ops if op.kind == "get" and op.status == "ok"]
        # The operation the search got stuck on first, then every other read in time order.
        if stuck_op is not None and stuck_op in gets:
            gets.remove(stuck_op)
            gets.insert(0, stuck_op)
        for read in gets:
            found = _rule_witness(ops, read, show)
            if found is not None:
                return found
    state_text = model.describe_state(prefix_state)
    placed = len(prefix)
    last = f", the last being {show.describe(by_id[prefix[-1]])}" if prefix else ""
    head = (
        f"The longest linearizable prefix found has {placed} operation(s){last}; "
        f"the state after it is {state_text}. "
    )
    if stuck_op is None:
        return head + "No operation can be placed next.", []
    if stuck_op.kind == "get" and stuck_op.status == "ok":
        body = (
            f"Next, get({show.key(stuck_op.key)}) by {_client(stuck_op)} during "
            f"{show.span(stuck_op)} returned "
            f"{stuck_op.output!r}, and no order of the operations that respects real time makes "
            "that value current at any instant inside its interval."
        )
    else:
        body = (
            f"{show.describe(stuck_op)} by {_client(stuck_op)} during {show.span(stuck_op)} "
            "cannot be placed: every position inside its interval leads to a read that "
            "returned the wrong value."
        )
    witness = [stuck_op] + ([by_id[prefix[-1]]] if prefix else [])
    return head + body, witness


def explain_result(
    verdict: str,
    results: dict,
    parts: dict[str, list[Operation]],
    model: Model,
    timeout_s: float | None,
    show: Display = PLAIN,
) -> tuple[str, list[Operation]]:
    """The summary sentence(s) for a whole CheckResult, and the witness to highlight."""
    total = sum(r.operations for r in results.values())
    if verdict == "ok":
        return (
            f"Linearizable: all {total} searched operations on {len(results)} key(s) can be put "
            "in one order that respects real time and the sequential KV rules.",
            [],
        )
    if verdict == "unknown":
        pending = [show.key(k) for k, r in results.items() if r.verdict == "unknown"]
        return (
            f"Unknown: the search used up its {timeout_s} s budget on key(s) {pending} before "
            "finishing. No violation was found, but linearizability is not proved either.",
            [],
        )
    bad = [k for k, r in results.items() if r.verdict == "violation"]
    first = results[bad[0]]
    text, witness = explain_violation(
        parts[bad[0]], first.prefix, first.prefix_state, first.stuck, model, show
    )
    shown = [show.key(k) for k in bad]
    others = f" (also not linearizable: key(s) {shown[1:]})" if len(bad) > 1 else ""
    return f"Not linearizable on key {shown[0]!r}{others}. {text}", witness
