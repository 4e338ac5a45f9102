"""Sequential specifications ("models") that a linearizability checker compares against.

A model says what a single, correct, one-at-a-time copy of the service would do, in the
style of Porcupine: ``init()`` gives the initial state, ``step(state, op)`` says whether
``op`` with its recorded output is legal in ``state`` and what the state becomes, and
``partition(ops)`` splits a history into independent pieces (per key for a KV store), which
is what makes checking thousands of operations fast: linearizability is *local*, so a
history is linearizable iff each key's sub-history is (Herlihy & Wing 1990, §3.3).

Models are pure: no clock, no I/O. States must be hashable (the checker memoizes them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from distlab.check.history import Operation


class Model(Protocol):
    """What the checker needs from a sequential specification.

    States are any hashable value; they are typed ``Any`` here so that a model may name its
    own state type (`KVModel`'s is a str) and still be a `Model`.
    """

    def init(self) -> Any:
        """The state before any operation."""
        ...

    def step(self, state: Any, op: Operation) -> tuple[bool, Any]:
        """Is ``op`` (with its recorded output) legal in ``state``? Returns (ok, new state).

        For an indefinite op the output is unknown and must not be checked.
        """
        ...

    def partition(self, ops: Sequence[Operation]) -> dict[str, list[Operation]]:
        """Independent sub-histories, each checked on its own."""
        ...

    def describe_state(self, state: Any) -> str:
        """Short human-readable text for explanations."""
        ...


class KVModel:
    """A key-value register per key, with put, get and append.

    - ``put(k, v)`` sets k to v; always legal.
    - ``append(k, s)`` sets k to its current value + s; always legal. Its output is not
      checked (like Porcupine's KV model and 6.824's Append, which returns nothing).
    - ``get(k)`` returns k's value; a key never written reads as the empty string ``""``
      (the 6.824 Clerk's convention), so ``get`` of a missing key returning ``""`` is legal.
      A completed get whose output is None (JSON ``null``: Jepsen's nil for a missing key)
      read nothing, which is the same empty value — as Porcupine-style checkers read it.

    The state of one key's partition is just its current string.
    """

    def init(self) -> str:
        return ""

    def step(self, state: str, op: Operation) -> tuple[bool, str]:
        kind = op.kind
        if kind == "put":
            return True, op.value or ""
        if kind == "append":
            return True, state + (op.value or "")
        # get: an indefinite get constrains nothing; a completed one must match the state.
        if op.status != "ok":
            return True, state
        return ((op.output or "") == state), state

    def partition(self, ops: Sequence[Operation]) -> dict[str, list[Operation]]:
        parts: dict[str, list[Operation]] = {}
        for op in ops:
            parts.setdefault(op.key, []).append(op)
        return parts

    def describe_state(self, state: str) -> str:
        return repr(state)
