"""A brute-force linearizability checker: try every order that respects real time.

It exists to check the checker. It shares nothing with linearizability.py's search
(no event list, no cache, no pruning): it enumerates, depth first, every sequence of the
operations in which no operation comes before one that completed before it was invoked,
lets each indefinite operation either appear or not, and asks the model about each
sequence. Exponential: use it on histories of a dozen operations at most.
"""

from __future__ import annotations

from collections.abc import Iterable

from distlab.check.history import History, Operation
from distlab.check.models import KVModel, Model

MAX_OPERATIONS = 12


def brute_force_linearizable(
    history: History | Iterable[Operation], model: Model | None = None
) -> bool:
    """True iff some real-time-respecting order of the operations is legal for ``model``.

    Failed operations are left out; indefinite ones (info or pending) may be placed
    anywhere after their invocation or left out. The whole history is searched at once
    (no partitioning), so this also cross-checks the per-key split.
    """
    model = model if model is not None else KVModel()
    ops = history.operations() if isinstance(history, History) else list(history)
    ops = [op for op in ops if op.status != "fail"]
    if len(ops) > MAX_OPERATIONS:
        raise ValueError(
            f"brute force is exponential; refusing {len(ops)} operations (max {MAX_OPERATIONS})"
        )
    inf = float("inf")
    ends = [inf if op.indefinite else op.ended for op in ops]
    optional = [i for i, op in enumerate(ops) if op.indefinite]
    required = [i for i, op in enumerate(ops) if not op.indefinite]

    def search(remaining: frozenset[int], states: dict) -> bool:
        if not remaining:
            return True
        for i in remaining:
            # i may go next only if nothing still unplaced completed before i was invoked.
            if any(ends[j] < ops[i].invoke for j in remaining):
                continue
            key = ops[i].key
            ok, new_state = model.step(states.get(key, model.init()), ops[i])
            if ok and search(remaining - {i}, {**states, key: new_state}):
                return True
        return False

    # Each indefinite op either happened (placed somewhere) or did not (left out).
    for mask in range(1 << len(optional)):
        chosen = [i for bit, i in enumerate(optional) if mask >> bit & 1]
        if search(frozenset(required + chosen), {}):
            return True
    return False
