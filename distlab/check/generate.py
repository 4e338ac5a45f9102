"""Seeded, simulated histories: correct ones, and ones with anomalies injected on purpose.

`simulate` plays a tiny imaginary KV store: each of ``clients`` sequential clients issues
operations with random durations; each operation takes effect atomically at a random
instant inside its interval (so the history is linearizable by construction); the
outputs of gets are what the store held at that instant. Optionally some operations
time out (``info``: they take effect with probability 1/2, possibly after the client gave
up) or fail definitely (``fail``: no effect).

`inject_stale_reads` then rewrites some gets to return a value that was provably
overwritten before the get began, which makes the history non-linearizable.

`append_runs` mimics the KV store's own nemesis runs with an append-only mix
(``distlab.kv.workload.run_workload`` with no puts): every key's value grows for the whole
run, so reads return long strings — the histories that once made the checker's pre-pass
take a minute. It is `simulate` with gets and appends only, plus an optional stale read.

Values are unique strings: puts write ``p<client>.<n>``, appends add ``a<client>.<n>;``,
so every state of a key names the writes that made it. Times are integer ticks. Pure:
the same seed gives the same history; no clock, no I/O.
"""

from __future__ import annotations

import random
from dataclasses import replace

from distlab.check.history import History, Operation


def simulate(
    seed: int,
    *,
    clients: int = 10,
    operations: int = 10_000,
    keys: int = 10,
    get_fraction: float = 0.5,
    append_fraction: float = 0.1,
    indefinite_fraction: float = 0.0,
    fail_fraction: float = 0.0,
    duration_max: int = 100,
    gap_max: int = 20,
) -> History:
    """A linearizable history of ``operations`` operations by ``clients`` clients.

    ``get_fraction`` and ``append_fraction`` choose the operation mix (the rest are puts);
    ``indefinite_fraction`` of writes time out, ``fail_fraction`` fail definitely.
    """
    if clients < 1 or operations < 0 or keys < 1:
        raise ValueError("need clients >= 1, keys >= 1 and operations >= 0")
    rng = random.Random(seed)
    key_names = [f"k{i}" for i in range(keys)]
    clock = [rng.randrange(0, duration_max) for _ in range(clients)]
    counters = [0] * clients
    planned: list[dict] = []
    for _ in range(operations):
        # The client whose turn comes first (ties to the lowest id) issues the next op.
        client = min(range(clients), key=lambda c: (clock[c], c))
        invoke = clock[client]
        complete = invoke + rng.randint(1, duration_max)
        clock[client] = complete + rng.randint(1, gap_max)
        counters[client] += 1
        n = counters[client]
        roll = rng.random()
        if roll < get_fraction:
            kind, value = "get", None
        elif roll < get_fraction + append_fraction:
            kind, value = "append", f"a{client}.{n};"
        else:
            kind, value = "put", f"p{client}.{n}"
        status = "ok"
        effect_at: int | None = rng.randint(invoke, complete)
        roll = rng.random()
        if roll < indefinite_fraction:
            status = "info"
            # A timed-out request may still be applied, even after the client gave up.
            effect_at = rng.randint(invoke, complete + duration_max) if rng.random() < 0.5 else None
        elif roll < indefinite_fraction + fail_fraction:
            status, effect_at = "fail", None
        planned.append(
            dict(
                client=client,
                kind=kind,
                key=rng.choice(key_names),
                value=value,
                invoke=invoke,
                complete=complete,
                status=status,
                effect_at=effect_at,
            )
        )
    # Apply effects in the order of their instants; a get reads the state at its instant.
    state: dict[str, str] = {}
    order = sorted(
        (i for i, p in enumerate(planned) if p["effect_at"] is not None),
        key=lambda i: (planned[i]["effect_at"], i),
    )
    outputs: dict[int, str] = {}
    for i in order:
        p = planned[i]
        if p["kind"] == "put":
            state[p["key"]] = p["value"]
        elif p["kind"] == "append":
            state[p["key"]] = state.get(p["key"], "") + p["value"]
        else:
            outputs[i] = state.get(p["key"], "")
    ops = [
        Operation(
            id=i,
            client=p["client"],
            kind=p["kind"],
            key=p["key"],
            value=p["value"],
            output=outputs.get(i) if p["status"] == "ok" else None,
            invoke=p["invoke"],
            complete=p["complete"],
            status=p["status"],
        )
        for i, p in enumerate(planned)
    ]
    return History.from_operations(ops)


def inject_stale_reads(history: History, count: int, seed: int) -> History:
    """A copy of ``history`` where ``count`` gets return a provably stale value.

    For a get G on key k, a value v qualifies when some completed write W on k was invoked
    after v's writer completed (or v is the initial "") and W completed before G began: then
    no linearization lets G see v. The injector picks, for random gets, the most recent
    such v among the values observed by earlier reads, so the staleness is small and
    realistic. Raises ValueError if fewer than ``count`` gets can be made stale.
    """
    rng = random.Random(seed)
    ops = history.operations()
    by_key: dict[str, list[Operation]] = {}
    for op in ops:
        by_key.setdefault(op.key, []).append(op)
    gets = [op for op in ops if op.kind == "get" and op.status == "ok"]
    rng.shuffle(gets)
    changes: dict[int, str] = {}
    for get in gets:
        if len(changes) == count:
            break
        stale = _stale_value_for(by_key[get.key], get)
        if stale is not None:
            changes[get.id] = stale
    if len(changes) < count:
        raise ValueError(f"only {len(changes)} gets could be made stale, {count} asked")
    return History.from_operations(
        replace(op, output=changes[op.id]) if op.id in changes else op for op in ops
    )


def _stale_value_for(key_ops: list[Operation], get: Operation) -> str | None:
    """The newest value that was overwritten, in real time, before ``get`` began."""
    writes = [w for w in key_ops if w.kind != "get" and w.status == "ok" and w.ended < get.invoke]
    if not writes:
        return None
    # A value written by put V is provably stale once a put W with W.invoke > V.complete
    # completed before the get began; "" is stale once any write completed.
    # Appends make a value a prefix chain, so for them we use the values earlier reads saw.
    candidates: list[tuple[int, str]] = []
    has_appends = any(op.kind == "append" for op in key_ops)
    if not has_appends:
        for v in writes:
            if any(w.invoke > v.ended for w in writes):
                candidates.append((v.ended, v.value or ""))
    else:
        for r in key_ops:
            if (
                r.kind == "get"
                and r.status == "ok"
                and r.id != get.id
                and r.ended < get.invoke
                and any(w.invoke > r.ended for w in writes)
            ):
                # r's value was current while r ran; a write invoked after r completed and
                # completed before the get began must be visible to the get.
                candidates.append((r.ended, r.output or ""))
    if not candidates:
        return "" if any(w.ended < get.invoke for w in writes) and get.output != "" else None
    candidates.sort()
    value = candidates[-1][1]
    return value if value != get.output else None


def append_runs(
    seed: int,
    *,
    clients: int = 4,
    operations: int = 10_000,
    keys: int = 3,
    stale_reads: int = 0,
    indefinite_fraction: float = 0.01,
    fail_fraction: float = 0.01,
) -> History:
    """A history like the KV store's nemesis runs with appends and gets only.

    Half gets, half appends of unique tokens (``a<client>.<n>;``) on ``keys`` keys, so
    each get returns the whole value built so far (thousands of characters by the end of
    a 10,000-operation run); a few writes time out or fail, as under a nemesis. Linearizable
    unless ``stale_reads`` > 0, in which case that many gets return a provably stale value
    (what the weak store's replica reads do).
    """
    history = simulate(
        seed,
        clients=clients,
        operations=operations,
        keys=keys,
        get_fraction=0.5,
        append_fraction=0.5,
        indefinite_fraction=indefinite_fraction,
        fail_fraction=fail_fraction,
    )
    return inject_stale_reads(history, stale_reads, seed) if stale_reads else history
