"""The linearizability checker: Wing & Gong's search with Lowe's memoization, per key.

A history is *linearizable* (线性一致性) if every operation can be given a single instant
between its invocation and its completion such that, in the order of those instants, the
operations are legal for the sequential model. Equivalently: there is a total order that
(1) respects real time — if A completed before B was invoked, A comes first — and
(2) the model accepts.

The search (Wing & Gong 1993; Lowe 2017; as in Porcupine) walks a doubly linked list of
call and return events in time order. At a call it tries to linearize that operation now
(the model must accept it); at a return whose operation is not yet linearized it has gone
too far, so it backtracks. A cache of (set of linearized operations, model state) pairs
already explored cuts the search from factorial to, in practice, near linear. The search
is an explicit loop with its own stack (no recursion limit), partitioned per key
(linearizability is local), and bounded by a time budget, after which the answer is
"unknown" — never "ok".

The budget covers the whole call, the pre-pass that drops unobservable timed-out writes
included: each key's work is a generator that hands control back every few hundred steps,
and the keys take turns, smallest first, each turn twice as long as the last. So one hard
key cannot spend the budget before a cheap violation elsewhere is found, and the result
says, key by key, ok / violation / unknown. The explanation of a violation (explain.py)
is written after the search, outside the budget.

Outcomes:
- ``fail`` operations definitely did not happen: dropped.
- ``info`` operations (and ones still pending) may or may not have happened: their return is
  at +infinity, and the search may leave them out entirely. Indefinite gets constrain
  nothing and are dropped.
- Equal times count as overlapping: A precedes B only if A.complete < B.invoke.

This module decides; explain.py turns a failed search into words. It never does I/O.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from distlab.check.explain import Display
from distlab.check.history import History, Operation
from distlab.check.models import KVModel, Model

Verdict = Literal["ok", "violation", "unknown"]

_CHECK_CLOCK_EVERY = 512  # loop iterations between looks at the clock (and turns)
_PREPASS_CHUNK = 256  # operations the pre-pass looks at between looks at the clock
_FIRST_TURN = 2  # pieces of work (above) a key gets in its first turn; doubled each round
# Once a violation is found, the other keys' searches stop this share of the budget early,
# so that explaining the violation (explain.py) gets time within the budget too.
_EXPLANATION_SHARE = 0.2
# Freeing a search's cache when it ends takes time too (0.27 s for 700,000 entries here), so
# a search stops this much per cache entry before its deadline.
_FREE_S_PER_CACHE_ENTRY = 0.5e-6


class _Deadline:
    """When the searches must stop (a time.monotonic() value, None: never); moved earlier
    by `check_linearizable` once a violation is found (see _EXPLANATION_SHARE)."""

    def __init__(self, at: float | None) -> None:
        self.at = at

    def passed(self, margin_s: float = 0.0) -> bool:
        """Has the deadline passed, or will it have once ``margin_s`` more are spent?"""
        return self.at is not None and time.monotonic() + margin_s > self.at


@dataclass(frozen=True)
class KeyResult:
    """The search's result for one partition (one key)."""

    key: str
    verdict: Verdict
    operations: int  # operations searched (after dropping failed ops and indefinite gets)
    indefinite: int  # indefinite writes among them (may be left out)
    steps: int  # loop iterations of the search
    cache_size: int  # distinct (linearized set, state) pairs explored
    elapsed_s: float
    # For a violation: the longest linearizable prefix found (op ids, in linearization
    # order), the model state after it, and the operation that could not be placed next.
    # For "ok": ``prefix`` is the witness, a whole linearization (op ids in order); the
    # operations missing from it failed, or were indefinite and need not have happened.
    prefix: tuple[int, ...] = ()
    prefix_state: Hashable = None
    stuck: int | None = None


@dataclass(frozen=True)
class CheckResult:
    """The checker's answer for a whole history.

    ``verdict`` is "ok" (linearizable), "violation" (proved not linearizable) or "unknown"
    (the time budget ran out first). ``witness`` holds the operations an explanation points
    at (for highlighting in a timeline).
    """

    verdict: Verdict
    keys: dict[str, KeyResult]
    explanation: str
    witness: tuple[Operation, ...] = ()
    elapsed_s: float = 0.0
    timeout_s: float | None = None
    violating_keys: tuple[str, ...] = field(default=())

    @property
    def key_verdicts(self) -> dict[str, Verdict]:
        """Per key: "ok", "violation" or "unknown" (the budget ran out on that key)."""
        return {key: r.verdict for key, r in self.keys.items()}

    @property
    def linearizable(self) -> bool | None:
        """True for ok, False for a violation, None when unknown."""
        return {"ok": True, "violation": False, "unknown": None}[self.verdict]

    def statistics(self) -> CheckStatistics:
        """Totals over keys: steps, cache entries, operations, time."""
        return CheckStatistics(
            verdict=self.verdict,
            keys=len(self.keys),
            operations=sum(r.operations for r in self.keys.values()),
            steps=sum(r.steps for r in self.keys.values()),
            cache_size=sum(r.cache_size for r in self.keys.values()),
            elapsed_s=self.elapsed_s,
        )


@dataclass(frozen=True)
class CheckStatistics:
    verdict: Verdict
    keys: int
    operations: int
    steps: int
    cache_size: int
    elapsed_s: float


def _searchable(ops: Iterable[Operation], model: Model) -> Iterator[list[Operation] | None]:
    """Drop what cannot matter, and tighten what must have happened (KV model only).

    A generator, so that the caller can look at the clock and give other keys their turn:
    it yields None after each bounded piece of work and the kept operations last.

    - Failed ops did not happen; indefinite gets constrain nothing: both are dropped.
    - An indefinite put or append that no completed get could have observed is dropped.
      In any linearization that includes it, a get placed after it and before the next put
      returns its value followed by appended suffixes: for a put, text that *starts with*
      its value and goes on with append suffixes; for an append, text that *contains* its
      suffix. If no get's output has that shape, no get sits there, and removing the write
      changes only states nobody observed. Adding such a write back at the very end is
      always legal, so both answers agree. Keeping a write that could have been dropped is
      always sound, only slower: the test (`_ReadShapes`) is deliberately a cheap necessary
      condition, not the exact parse of every output into suffixes it used to be, which
      cost reads x value length x suffix lengths in Python and took tens of seconds on long
      append histories.
    - Without appends, an indefinite put that is the only write of a value some get returned
      must precede that get, so it is given that get's completion as its own: it becomes a
      required operation, which keeps the search from trying to leave it out.
    - A completed get whose output is None read the empty value (see `KVModel`).
    """
    kept = [op for op in ops if op.status != "fail" and not (op.kind == "get" and op.indefinite)]
    if not isinstance(model, KVModel):
        yield kept
        return
    kept = [replace(op, output="") if op.kind == "get" and op.output is None else op for op in kept]
    reads = [op for op in kept if op.kind == "get"]
    if not any(op.is_write and op.indefinite for op in kept):
        yield kept  # nothing to drop or tighten
        return
    if any(op.kind == "append" for op in kept):
        observed = _ReadShapes(reads, kept)
        decided: list[Operation] = []
        for count, op in enumerate(kept, start=1):
            if not (op.is_write and op.indefinite) or observed.could_show(op):
                decided.append(op)
            if count % _PREPASS_CHUNK == 0:
                yield None
        yield decided
        return
    first_seen: dict[str | None, int] = {}
    for r in reads:
        if r.output not in first_seen or r.complete < first_seen[r.output]:  # type: ignore[operator]
            first_seen[r.output] = r.complete  # type: ignore[assignment]
    writers: dict[str | None, int] = {}
    for op in kept:
        if op.is_write:
            writers[op.value] = writers.get(op.value, 0) + 1
    tightened = []
    for op in kept:
        if op.kind == "put" and op.indefinite:
            seen_at = first_seen.get(op.value)
            if seen_at is None:
                continue  # never observed: may be assumed not to have happened
            if op.value != model.init() and writers[op.value] == 1 and seen_at >= op.invoke:
                op = replace(op, status="ok", complete=seen_at)
        tightened.append(op)
    yield tightened


class _ReadShapes:
    """What the outputs of completed gets could show about timed-out writes.

    - An append's suffix can have been seen only if it occurs in some output. An output
      that is a prefix of another shows nothing the longer one does not, so the search runs
      over the longest outputs only (sorted, a string's extensions follow it directly), all
      joined into one text: one substring search in C per append. A match across a
      separator is a false "could show", which only keeps a write: sound.
    - A put's value can have been seen only if some output starts with it and goes on, if
      at all, with an append suffix. (Starting with it is not enough to be useful: with
      values such as ``p3.1`` and ``p3.10`` it would keep writes that nobody saw.) Put values
      have few distinct lengths, so each output is cut at those lengths and looked up.
    """

    SEPARATOR = "\x00"

    def __init__(self, reads: Sequence[Operation], writes: Sequence[Operation]) -> None:
        outputs = sorted({op.output or "" for op in reads})
        longest = [
            text
            for i, text in enumerate(outputs)
            if i + 1 == len(outputs) or not outputs[i + 1].startswith(text)
        ]
        self.any_read = bool(outputs)
        self.joined = self.SEPARATOR.join(longest)
        suffixes = {op.value for op in writes if op.kind == "append" and op.value}
        suffix_lengths = sorted({len(x) for x in suffixes})
        puts = {op.value or "" for op in writes if op.kind == "put" and op.indefinite}
        put_lengths = sorted({len(value) for value in puts})
        self.puts_seen: set[str] = set()
        for text in outputs:
            for n in put_lengths:
                if n > len(text):
                    break
                head = text[:n]
                if head in puts and (
                    n == len(text) or any(text[n : n + m] in suffixes for m in suffix_lengths)
                ):
                    self.puts_seen.add(head)

    def could_show(self, write: Operation) -> bool:
        """Could some get have been placed after ``write`` and before the next put?"""
        if not self.any_read:
            return False
        value = write.value or ""
        if write.kind == "append":
            return value in self.joined
        return value in self.puts_seen


def check_partition(
    key: str,
    ops: Sequence[Operation],
    model: Model,
    *,
    deadline: float | None = None,
    memoize: bool = True,
) -> KeyResult:
    """Run the WGL search on one partition. ``deadline`` is a time.monotonic() value."""
    search = _partition_search(key, ops, model, deadline=_Deadline(deadline), memoize=memoize)
    while True:
        try:
            next(search)
        except StopIteration as finished:
            return finished.value


def _partition_search(
    key: str,
    ops: Sequence[Operation],
    model: Model,
    *,
    deadline: _Deadline,
    memoize: bool,
) -> Generator[None, None, KeyResult]:
    """The search on one partition, as a generator: it yields after each bounded piece of
    work (a chunk of the pre-pass, `_CHECK_CLOCK_EVERY` search steps) so that
    `check_linearizable` can share the budget between keys; it returns the `KeyResult`.

    It looks at the clock itself at every yield and returns "unknown" once ``deadline`` has
    passed, so resuming it after the deadline ends it with its figures so far.
    ``elapsed_s`` counts only the time spent inside this generator, not other keys' turns.
    """
    spent = 0.0  # seconds inside this generator
    resumed = time.monotonic()

    out_of_time = deadline.passed

    def pause():  # a generator of its own: ``yield from pause()`` hands the turn over
        nonlocal spent, resumed
        spent += time.monotonic() - resumed
        yield
        resumed = time.monotonic()

    if out_of_time():
        return _unfinished(key, ops)  # the budget was spent before this key's turn
    prepass = _searchable(ops, model)
    searchable: list[Operation] | None = None
    while searchable is None:
        searchable = next(prepass)
        if searchable is None:
            yield from pause()
            if out_of_time():
                return _unfinished(key, ops, elapsed_s=spent)
    ops = searchable
    n = len(ops)
    required_left = sum(not op.indefinite for op in ops)
    indefinite = n - required_left

    # Entries: index 0 is the head sentinel, n_entries + 1 the tail sentinel. A call entry
    # sorts before a return entry at the same time, so touching intervals overlap.
    raw: list[tuple[int, int, int]] = []  # (time, 0=call / 1=return, op position)
    for position, op in enumerate(ops):
        raw.append((op.invoke, 0, position))
        if not op.indefinite:
            raw.append((op.complete, 1, position))  # type: ignore[arg-type]
    raw.sort()
    size = len(raw)
    tail = size + 1
    entry_op = [0] * (size + 2)
    is_call = [False] * (size + 2)
    return_of = [0] * n  # op position -> its return entry (0 when indefinite: none)
    for entry, (_, kind, position) in enumerate(raw, start=1):
        entry_op[entry] = position
        if kind == 0:
            is_call[entry] = True
        else:
            return_of[position] = entry
    nxt = list(range(1, size + 3))
    prv = [-1, *range(0, size + 1)]

    def result(verdict: Verdict, steps: int, cache_size: int, **extra) -> KeyResult:
        return KeyResult(
            key=key,
            verdict=verdict,
            operations=n,
            indefinite=indefinite,
            steps=steps,
            cache_size=cache_size,
            elapsed_s=spent + time.monotonic() - resumed,
            **extra,
        )

    if required_left == 0:
        return result("ok", 0, 0)
    if out_of_time():
        return result("unknown", 0, 0)

    step = model.step
    state = model.init()
    linearized = 0  # bitset over op positions
    cache: set[tuple[int, Hashable]] = set()
    stack: list[tuple[int, Hashable, int]] = []  # (call entry, state before, set before)
    best_depth = -1
    # The deepest point reached: a copy of the stack (its entries are immutable tuples), the
    # state there, and the op stuck next. A list copy runs in C; turning it into op ids is
    # left to the end, as doing it at every new depth was O(depth) in Python each time.
    best: tuple[list[tuple[int, Hashable, int]], Hashable, int] = ([], state, 0)
    steps = 0
    entry = nxt[0]
    while True:
        steps += 1
        if steps % _CHECK_CLOCK_EVERY == 0:
            yield from pause()
            if out_of_time(len(cache) * _FREE_S_PER_CACHE_ENTRY):
                return result("unknown", steps, len(cache))
        if entry != tail and is_call[entry]:
            position = entry_op[entry]
            op = ops[position]
            ok, new_state = step(state, op)
            if ok:
                new_linearized = linearized | (1 << position)
                if memoize:
                    memo_key = (new_linearized, new_state)
                    if memo_key in cache:
                        entry = nxt[entry]
                        continue
                    cache.add(memo_key)
                stack.append((entry, state, linearized))
                state, linearized = new_state, new_linearized
                # Lift the call and its return out of the list.
                nxt[prv[entry]] = nxt[entry]
                prv[nxt[entry]] = prv[entry]
                ret = return_of[position]
                if ret:
                    nxt[prv[ret]] = nxt[ret]
                    prv[nxt[ret]] = prv[ret]
                    required_left -= 1
                    if required_left == 0:
                        # The stack is a witness: one legal order of every operation that
                        # must have happened (and of the indefinite ones placed so far).
                        order = tuple(ops[entry_op[e]].id for e, _, _ in stack)
                        return result("ok", steps, len(cache), prefix=order)
                entry = nxt[0]
            else:
                entry = nxt[entry]
            continue
        # A return whose operation is not linearized yet (or the end): backtrack.
        if len(stack) > best_depth:
            best_depth = len(stack)
            stuck = entry_op[entry] if entry != tail else -1
            best = (stack[:], state, stuck)
        if not stack:
            deepest, prefix_state, stuck = best
            return result(
                "violation",
                steps,
                len(cache),
                prefix=tuple(ops[entry_op[e]].id for e, _, _ in deepest),
                prefix_state=prefix_state,
                stuck=ops[stuck].id if stuck >= 0 else None,
            )
        entry, state, linearized = stack.pop()
        position = entry_op[entry]
        ret = return_of[position]
        if ret:
            # Unlift in reverse order of lifting.
            prv[nxt[ret]] = ret
            nxt[prv[ret]] = ret
            required_left += 1
        prv[nxt[entry]] = entry
        nxt[prv[entry]] = entry
        entry = nxt[entry]


def _unfinished(key: str, ops: Sequence[Operation], elapsed_s: float = 0.0) -> KeyResult:
    """The result of a key whose search the deadline stopped before it began."""
    kept = [op for op in ops if op.status != "fail" and not (op.kind == "get" and op.indefinite)]
    return KeyResult(
        key=key,
        verdict="unknown",
        operations=len(kept),
        indefinite=sum(op.indefinite for op in kept),
        steps=0,
        cache_size=0,
        elapsed_s=elapsed_s,
    )


def _take_turns(
    searches: dict[str, Generator[None, None, KeyResult]],
    order: list[str],
    on_violation: Callable[[], None],
) -> dict[str, KeyResult]:
    """Run the per-key searches round robin in ``order``, each round's turns twice as long.

    A key that needs S pieces of work is done after at most about 2 x S pieces of every
    other key, so a cheap answer anywhere comes early. Each search watches the deadline
    itself; once it has passed, every search still running ends at its next piece.
    ``on_violation`` is called each time a key's search ends in a violation.
    """
    results: dict[str, KeyResult] = {}
    running = list(order)
    turn = _FIRST_TURN
    while running:
        still_running = []
        for key in running:
            search = searches[key]
            try:
                for _ in range(turn):
                    next(search)
            except StopIteration as finished:
                results[key] = finished.value
                if finished.value.verdict == "violation":
                    on_violation()
                continue
            still_running.append(key)
        running = still_running
        turn *= 2
    return results


class _WithoutRules:
    """A model that explain.py does not recognise as the KV model, so it skips its rules
    and words the search's own evidence (the longest prefix, the stuck operation)."""

    def __init__(self, model: Model) -> None:
        self.model = model

    def describe_state(self, state: Hashable) -> str:
        return self.model.describe_state(state)


def _explain_in_time(
    verdict: Verdict,
    results: dict[str, KeyResult],
    parts: dict[str, list[Operation]],
    model: Model,
    timeout_s: float | None,
    deadline: float | None,
    show: Display,
) -> tuple[str, Sequence[Operation]]:
    """`explain_result`, within what is left of the budget.

    For a violation explain.py tries its rules on the stuck read, then on every other read
    in turn (each try scans the key's operations: reads x operations in all, seconds on a
    long key). Here the same tries run in the same order, with a look at the clock between
    reads; the read whose rule fires is then handed to explain.py as the one to try first,
    so the words are exactly explain.py's. If no rule fires before the deadline (or at
    all), the explanation is the search's own evidence, as explain.py gives when no rule
    fires.
    """
    from distlab.check.explain import _rule_witness, explain_result

    bad = [key for key, r in results.items() if r.verdict == "violation"]
    if verdict != "violation" or not isinstance(model, KVModel):
        return explain_result(verdict, results, parts, model, timeout_s, show)
    first = results[bad[0]]
    ops = parts[bad[0]]
    gets = [op for op in ops if op.kind == "get" and op.status == "ok"]
    stuck = next((op for op in gets if op.id == first.stuck), None)
    if stuck is not None:
        gets.remove(stuck)
        gets.insert(0, stuck)
    for read in gets:
        if deadline is not None and time.monotonic() > deadline:
            break
        if _rule_witness(ops, read) is not None:
            named = {**results, bad[0]: replace(first, stuck=read.id)}
            return explain_result(verdict, named, parts, model, timeout_s, show)
    without_rules = _WithoutRules(model)
    return explain_result(verdict, results, parts, without_rules, timeout_s, show)  # type: ignore[arg-type]


def _operations(history: History | Iterable[Operation]) -> list[Operation]:
    if isinstance(history, History):
        return history.operations()
    return list(history)


def check_linearizable(
    history: History | Iterable[Operation],
    model: Model | None = None,
    *,
    timeout_s: float | None = 10.0,
    memoize: bool = True,
    explain: bool = True,
    time_unit_ns: float | None = None,
    key_names: Mapping[str, str] | None = None,
) -> CheckResult:
    """Is ``history`` linearizable with respect to ``model`` (default: `KVModel`)?

    Each key is searched separately, all under one time budget of ``timeout_s`` seconds
    (None: no limit) that bounds the whole call, pre-passes included. Keys take turns,
    smallest first, each turn twice as long as the last, so a violation that is cheap to
    find on one key is found even when another key would use up the budget alone.
    If any key has a violation the verdict is "violation" (proved); otherwise, if the
    budget ran out on any key, "unknown"; otherwise "ok". ``CheckResult.key_verdicts``
    says which, key by key.
    ``memoize=False`` turns the cache off (a baseline for benchmarks; exponential).

    The explanation shows times in milliseconds since the history's first invocation when
    the clock's unit is known (``time_unit_ns``, nanoseconds per unit; by default the
    `History`'s own ``time_unit_ns``), else the stored numbers; and keys by the names in
    ``key_names`` (stored key -> the learner's name; others as stored).
    """
    model = model if model is not None else KVModel()
    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    ops = _operations(history)
    if time_unit_ns is None and isinstance(history, History):
        time_unit_ns = history.time_unit_ns
    show = Display.for_history(ops, time_unit_ns, key_names)
    parts = model.partition(ops)
    search_deadline = _Deadline(deadline)
    searches = {
        key: _partition_search(key, parts[key], model, deadline=search_deadline, memoize=memoize)
        for key in parts
    }

    def leave_time_to_explain() -> None:
        if explain and deadline is not None and timeout_s is not None:
            search_deadline.at = min(deadline, deadline - _EXPLANATION_SHARE * timeout_s)

    # Cheapest first: a key's size is the best guess of its cost before searching it.
    order = sorted(parts, key=lambda k: (len(parts[k]), str(k)))
    finished = _take_turns(searches, order, leave_time_to_explain)
    results = {key: finished[key] for key in sorted(parts, key=str)}
    violating = tuple(k for k, r in results.items() if r.verdict == "violation")
    if violating:
        verdict: Verdict = "violation"
    elif any(r.verdict == "unknown" for r in results.values()):
        verdict = "unknown"
    else:
        verdict = "ok"
    elapsed = time.monotonic() - started
    text = ""
    witness: Sequence[Operation] = ()
    if explain:
        text, witness = _explain_in_time(verdict, results, parts, model, timeout_s, deadline, show)
        unfinished = [show.key(k) for k, r in results.items() if r.verdict == "unknown"]
        if verdict == "violation" and unfinished:
            text += f" The {timeout_s} s budget ran out before key(s) {unfinished} were decided."
    return CheckResult(
        verdict=verdict,
        keys=results,
        explanation=text,
        witness=tuple(witness),
        elapsed_s=elapsed,
        timeout_s=timeout_s,
        violating_keys=violating,
    )
