"""Lock-order checking: catch a deadlock the first time its *ingredients* appear.

A deadlock between locks needs a cycle: one thread holds A and waits for B while
another holds B and waits for A. Waiting for the cycle to actually close is a bad
way to find the bug, because it may need an unlucky interleaving that shows up
once a month. Linux's *lockdep* does better, and so does this module: while
checking is on, every acquisition of a distlab lock records an edge "held ->
acquired" in one process-wide graph, together with the code location (file:line)
of both acquisitions. Before a thread blocks on a lock it asks: "has any thread
ever acquired the lock I now hold *while holding* the lock I am about to take?"
If yes, the two orders together form a cycle, and `PotentialDeadlock` is raised
right there, naming both locks and both code locations, even if this run would
have been lucky.

The same bookkeeping knows which locks the current thread holds, which gives
`warn_if_locks_held(what)`: the RPC layer calls it before every blocking call, so
that holding a Mutex across a network round trip (the classic 6.824 mistake)
produces a `HeldAcrossBlockingCall` warning.

What this module must never do: cost anything noticeable when checking is off.
Locks test one module-level flag (`_state.enabled`) and skip everything else.
It must never block on anything but its own short internal lock, and it depends
on nothing else in distlab. `mutex.py` and `rwlock.py` call the hooks
(`before_acquire`, `after_acquire`, `after_release`); learners call
`enable_lock_order_checking()` or use `lock_order_checking()` as a context manager.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import threading
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Protocol

__all__ = [
    "HeldAcrossBlockingCall",
    "LockOrderEdge",
    "PotentialDeadlock",
    "disable_lock_order_checking",
    "enable_lock_order_checking",
    "held_lock_names",
    "lock_order_checking",
    "lock_order_checking_enabled",
    "lock_order_edges",
    "warn_if_locks_held",
]


class TrackedLock(Protocol):
    """What the checker needs from a lock: a stable identity and a display name."""

    @property
    def name(self) -> str: ...

    @property
    def lock_id(self) -> int: ...


class PotentialDeadlock(RuntimeError):
    """Two code paths take the same two locks in opposite orders.

    Raised by the acquisition that would complete the cycle, *before* it blocks.
    Attributes: ``holding`` (name of the lock this thread holds), ``acquiring``
    (name of the lock it tried to take), ``location`` (file:line of this
    acquisition), ``holding_location`` (where the held lock was taken), and
    ``earlier`` (the recorded edges that form the opposite order, first to last).
    """

    def __init__(
        self,
        holding: str,
        acquiring: str,
        location: str,
        holding_location: str,
        earlier: list[LockOrderEdge],
    ) -> None:
        self.holding = holding
        self.acquiring = acquiring
        self.location = location
        self.holding_location = holding_location
        self.earlier = earlier
        chain = "; then ".join(
            f"{edge.acquired!r} was acquired at {edge.acquired_location} while holding "
            f"{edge.held!r} (acquired at {edge.held_location})"
            for edge in earlier
        )
        super().__init__(
            f"potential deadlock: this thread acquires {acquiring!r} at {location} while "
            f"holding {holding!r} (acquired at {holding_location}), but earlier {chain}. "
            f"The two orders together can deadlock; always take these locks in one order."
        )

    @property
    def lock_names(self) -> tuple[str, str]:
        """The two locks taken in opposite orders: (held, being acquired)."""
        return (self.holding, self.acquiring)


class HeldAcrossBlockingCall(UserWarning):
    """A thread holds a distlab lock while starting a blocking call (e.g. an RPC)."""


@dataclass(frozen=True)
class LockOrderEdge:
    """One observed order: ``acquired`` was taken while ``held`` was held."""

    held: str
    acquired: str
    held_location: str
    acquired_location: str


class _State:
    """The process-wide checker state. ``enabled`` is the only field read when off."""

    def __init__(self) -> None:
        self.enabled = False
        # Bumped on every enable/disable so per-thread "held" lists from an older
        # session are discarded instead of trusted.
        self.generation = 0
        self.guard = threading.Lock()
        # lock_id -> {lock_id: edge}: "key was held while value's key was acquired".
        self.graph: dict[int, dict[int, LockOrderEdge]] = {}
        self.local = threading.local()


_state = _State()
_SYNC_DIR = os.path.dirname(os.path.abspath(__file__))
# Frames to skip when naming "where": our own code, and contextlib's machinery that
# runs `RWLock.read()` / `lock_order_checking()` style context managers.
_SKIPPED_FILES = {os.path.abspath(contextlib.__file__)}


def enable_lock_order_checking() -> None:
    """Start recording lock orders (with a fresh, empty graph) in every thread."""
    with _state.guard:
        _state.graph = {}
        _state.generation += 1
        _state.enabled = True


def disable_lock_order_checking() -> None:
    """Stop recording; locks go back to costing one flag test."""
    with _state.guard:
        _state.enabled = False
        _state.generation += 1
        _state.graph = {}


def lock_order_checking_enabled() -> bool:
    """True while lock-order checking is on."""
    return _state.enabled


@contextlib.contextmanager
def lock_order_checking() -> Iterator[None]:
    """Turn checking on for the ``with`` block, then restore the previous setting."""
    was_enabled = _state.enabled
    enable_lock_order_checking()
    try:
        yield
    finally:
        if not was_enabled:
            disable_lock_order_checking()


def lock_order_edges() -> list[LockOrderEdge]:
    """Every order recorded since checking was enabled (for display and tests)."""
    with _state.guard:
        return [edge for targets in _state.graph.values() for edge in targets.values()]


def held_lock_names() -> list[str]:
    """Names of the distlab locks the current thread holds (empty when checking is off)."""
    if not _state.enabled:
        return []
    return [name for _, name, _ in _held()]


def warn_if_locks_held(what: str, *, stacklevel: int = 2) -> None:
    """Warn with `HeldAcrossBlockingCall` if this thread holds a distlab lock.

    Call it at the start of anything that may block for long (an RPC, a sleep,
    a join). ``stacklevel`` is passed to `warnings.warn` (2: the caller of this
    function; a library wrapper passes 3 to blame its own caller). Costs one
    flag test when checking is off.
    """
    if not _state.enabled:
        return
    held = _held()
    if held:
        names = ", ".join(f"{name!r} (acquired at {location})" for _, name, location in held)
        warnings.warn(
            HeldAcrossBlockingCall(
                f"{what} started while holding {names}: every other thread that needs "
                f"these locks now waits for the whole call; release them first"
            ),
            stacklevel=stacklevel,
        )


# --- hooks called by the locks ---------------------------------------------------------


def _held() -> list[tuple[int, str, str]]:
    """This thread's held locks as (lock_id, name, location), oldest first."""
    local = _state.local
    if getattr(local, "generation", None) != _state.generation:
        local.generation = _state.generation
        local.held = []
    return local.held


def caller_location() -> str:
    """file:line of the first frame outside distlab/sync (the learner's code)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and (
        os.path.dirname(frame.f_code.co_filename) == _SYNC_DIR
        or frame.f_code.co_filename in _SKIPPED_FILES
    ):
        frame = frame.f_back
    if frame is None:  # pragma: no cover - only when called from the sync package itself
        return "<unknown>"
    return f"{_display_path(frame.f_code.co_filename)}:{frame.f_lineno}"


@functools.lru_cache(maxsize=1024)
def _display_path(filename: str) -> str:
    """The path relative to the working directory when it is inside it (cached: relpath is slow)."""
    with contextlib.suppress(ValueError):
        relative = os.path.relpath(filename)
        if not relative.startswith(".."):
            return relative
    return filename


def before_acquire(lock: TrackedLock, *, may_block: bool) -> str:
    """Check and record the order for an acquisition that is about to happen.

    Returns the code location to pass to `after_acquire`. Raises
    `PotentialDeadlock` if taking ``lock`` now closes a cycle in the graph.
    A non-blocking attempt (``may_block=False``) cannot deadlock, so, as in
    lockdep's trylock, it adds no edges.
    """
    location = caller_location()
    held = _held()
    if not may_block or not held:
        return location
    target = lock.lock_id
    with _state.guard:
        for held_id, held_name, held_location in held:
            if held_id == target:
                continue  # re-acquiring is reported by the lock itself
            path = _find_path(target, held_id)
            if path is not None:
                raise PotentialDeadlock(held_name, lock.name, location, held_location, path)
        for held_id, held_name, held_location in held:
            if held_id != target:
                _state.graph.setdefault(held_id, {}).setdefault(
                    target, LockOrderEdge(held_name, lock.name, held_location, location)
                )
    return location


def after_acquire(lock: TrackedLock, location: str) -> None:
    """Record that this thread now holds ``lock`` (acquired at ``location``)."""
    _held().append((lock.lock_id, lock.name, location))


def held_location(lock: TrackedLock) -> str | None:
    """Where this thread acquired ``lock`` (None if it is not recorded as held)."""
    for lock_id, _, location in reversed(_held()):
        if lock_id == lock.lock_id:
            return location
    return None


def after_release(lock: TrackedLock) -> None:
    """Forget that this thread holds ``lock``. Unknown locks (taken while off) are ignored."""
    held = _held()
    for index in range(len(held) - 1, -1, -1):
        if held[index][0] == lock.lock_id:
            del held[index]
            return


def _find_path(start: int, goal: int) -> list[LockOrderEdge] | None:
    """Edges of a path start -> ... -> goal in the order graph, or None. Caller holds guard."""
    stack: list[tuple[int, list[LockOrderEdge]]] = [(start, [])]
    seen = {start}
    while stack:
        node, path = stack.pop()
        for successor, edge in _state.graph.get(node, {}).items():
            if successor == goal:
                return [*path, edge]
            if successor not in seen:
                seen.add(successor)
                stack.append((successor, [*path, edge]))
    return None
