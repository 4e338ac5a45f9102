"""Channel: a bounded, closable queue between threads, and `select` over several (Go style).

Instead of sharing a map under a Mutex, threads can *communicate*: a worker sends
its result on a Channel and a coordinator receives it. Only the coordinator ever
touches the shared state, so it needs no lock. This is Go's model, used by the
lecture-2 crawler and by many Raft implementations.

Semantics (as in Go, with exceptions instead of panics):

- ``Channel(capacity)``: ``send`` blocks while ``capacity`` items are buffered.
  ``capacity=0`` (the default) is a *rendezvous*: ``send`` returns only after a
  receiver has taken the item, so sender and receiver meet.
- ``send`` on a closed channel raises `ChannelClosed`; so does a sender that is
  still blocked when the channel is closed (its item is not delivered).
- ``recv`` returns buffered items even after ``close()``; once the channel is
  closed *and* drained, ``recv`` raises `ChannelClosed`. ``for item in channel``
  receives until then.
- Timeouts raise `ChannelTimeout` (a `TimeoutError`); ``timeout=0`` never blocks
  (``send_nowait`` / ``recv_nowait``). A rendezvous ``send_nowait`` succeeds only
  if a receiver is already waiting.
- ``select(channels, timeout=..., rng=...)`` waits until at least one channel can
  be received from (an item, or closed and drained), picks one of the ready ones
  at random (seedable with ``rng``), and returns a `Selected`.

What it must never do: lose or duplicate an item, deliver an item to two
receivers, or let ``send`` succeed on a closed channel. One internal lock per
channel, never held while user code runs, so channels take no part in
lock-order checking.
"""

from __future__ import annotations

import random
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

__all__ = [
    "Channel",
    "ChannelClosed",
    "ChannelStatistics",
    "ChannelTimeout",
    "Selected",
    "select",
]

T = TypeVar("T")


class ChannelClosed(Exception):
    """Send on a closed channel, or receive from a closed channel that is drained."""


class ChannelTimeout(TimeoutError):
    """A send, receive or select did not complete before its timeout."""


@dataclass(frozen=True)
class ChannelStatistics:
    """A snapshot of a channel: its size and how much went through it."""

    capacity: int
    length: int
    sent: int
    received: int
    closed: bool
    # Threads blocked in send / recv right now (a test waits for these instead of sleeping).
    waiting_senders: int = 0
    waiting_receivers: int = 0


@dataclass(frozen=True)
class Selected:
    """What `select` received: from ``channels[index]``, ``value``; ``ok`` False if closed."""

    index: int
    value: Any
    ok: bool


def _deadline(timeout: float | None) -> float | None:
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 or None, not {timeout!r}")
    return None if timeout is None else time.monotonic() + timeout


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else deadline - time.monotonic()


class Channel(Generic[T]):
    """A bounded FIFO channel; ``capacity=0`` makes every send a rendezvous."""

    def __init__(self, capacity: int = 0, name: str | None = None) -> None:
        if capacity < 0:
            raise ValueError(f"Channel capacity must be >= 0, not {capacity}")
        self._capacity = capacity
        self.name = name or "Channel"
        lock = threading.Lock()
        self._lock = lock
        self._not_empty = threading.Condition(lock)
        self._not_full = threading.Condition(lock)
        # Rendezvous senders wait here until their item is taken; receivers that
        # give up also notify it, so a sender knows nobody is coming.
        self._taken_cond = threading.Condition(lock)
        self._buffer: deque[T] = deque()
        self._closed = False
        self._put = 0  # items ever placed in the buffer (and not withdrawn)
        self._taken = 0  # items ever removed by receivers
        self._waiting_receivers = 0
        self._waiting_senders = 0  # inside send(): only seen while one waits (lock released)
        self._watchers: set[threading.Event] = set()

    @property
    def capacity(self) -> int:
        """How many items may wait in the buffer (0: rendezvous)."""
        return self._capacity

    @property
    def closed(self) -> bool:
        """True once ``close()`` was called."""
        return self._closed

    def __len__(self) -> int:
        return len(self._buffer)

    # --- sending ---------------------------------------------------------------------

    def send(self, item: T, timeout: float | None = None) -> None:
        """Send ``item``, waiting at most ``timeout`` s (None: forever).

        Raises `ChannelClosed` if the channel is (or gets) closed before the item
        is accepted, `ChannelTimeout` if time runs out.
        """
        deadline = _deadline(timeout)
        # A rendezvous channel holds at most one in-flight item: the sender's own.
        limit = max(self._capacity, 1)
        with self._lock:
            self._waiting_senders += 1
            try:
                self._send_locked(item, limit, deadline)
            finally:
                self._waiting_senders -= 1

    def _send_locked(self, item: T, limit: int, deadline: float | None) -> None:
        """The body of `send`; the caller holds the lock."""
        while True:
            if self._closed:
                raise ChannelClosed(f"send on closed channel {self.name!r}")
            if len(self._buffer) < limit:
                break
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                raise ChannelTimeout(f"send on {self.name!r} timed out: channel full")
            self._not_full.wait(remaining)
        self._buffer.append(item)
        ticket = self._put
        self._put += 1
        self._not_empty.notify()
        for event in self._watchers:
            event.set()
        if self._capacity == 0:
            self._wait_until_taken(ticket, deadline)

    def _wait_until_taken(self, ticket: int, deadline: float | None) -> None:
        """Rendezvous: wait until a receiver took item number ``ticket``. Caller holds lock."""
        while self._taken <= ticket:
            # Our item is still the only one in the buffer; it may be withdrawn.
            if self._closed:
                self._withdraw()
                raise ChannelClosed(f"channel {self.name!r} closed before a receiver came")
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                if self._waiting_receivers == 0:
                    self._withdraw()
                    raise ChannelTimeout(f"send on {self.name!r} timed out: no receiver came")
                # A receiver is inside recv/select: it takes the item or leaves and
                # notifies us, so this wait is short.
                self._taken_cond.wait()
            else:
                self._taken_cond.wait(remaining)

    def _withdraw(self) -> None:
        self._buffer.popleft()
        self._put -= 1
        self._not_full.notify()

    def send_nowait(self, item: T) -> None:
        """Send without blocking, or raise `ChannelTimeout` (full / no receiver waiting)."""
        self.send(item, timeout=0)

    # --- receiving -------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> T:
        """Receive the next item, waiting at most ``timeout`` s.

        Raises `ChannelClosed` once the channel is closed and drained, and
        `ChannelTimeout` if time runs out.
        """
        deadline = _deadline(timeout)
        with self._lock:
            self._waiting_receivers += 1
            try:
                while not self._buffer:
                    if self._closed:
                        raise ChannelClosed(f"recv on closed and drained channel {self.name!r}")
                    remaining = _remaining(deadline)
                    if remaining is not None and remaining <= 0:
                        raise ChannelTimeout(f"recv on {self.name!r} timed out: nothing sent")
                    self._not_empty.wait(remaining)
                return self._take()
            finally:
                self._waiting_receivers -= 1
                if self._capacity == 0:
                    self._taken_cond.notify_all()

    def recv_nowait(self) -> T:
        """Receive without blocking, or raise `ChannelTimeout` / `ChannelClosed`."""
        return self.recv(timeout=0)

    def _take(self) -> T:
        item = self._buffer.popleft()
        self._taken += 1
        self._not_full.notify()
        if self._capacity == 0:
            self._taken_cond.notify_all()
        return item

    def _poll(self) -> tuple[bool, bool, Any]:
        """For select: (ready, ok, value). Takes an item if there is one."""
        with self._lock:
            if self._buffer:
                return True, True, self._take()
            if self._closed:
                return True, False, None
            return False, False, None

    def __iter__(self) -> Iterator[T]:
        """Receive items until the channel is closed and drained."""
        while True:
            try:
                yield self.recv()
            except ChannelClosed:
                return

    # --- closing and watching --------------------------------------------------------

    def close(self) -> None:
        """Close the channel: no more sends; receivers drain what is buffered.

        Closing twice raises RuntimeError (it means two parties think they own it).
        """
        with self._lock:
            if self._closed:
                raise RuntimeError(f"close() of channel {self.name!r}, which is already closed")
            self._closed = True
            self._not_empty.notify_all()
            self._not_full.notify_all()
            self._taken_cond.notify_all()
            for event in self._watchers:
                event.set()

    def _watch(self, event: threading.Event) -> None:
        with self._lock:
            self._watchers.add(event)
            self._waiting_receivers += 1

    def _unwatch(self, event: threading.Event) -> None:
        with self._lock:
            self._watchers.discard(event)
            self._waiting_receivers -= 1
            if self._capacity == 0:
                self._taken_cond.notify_all()

    def statistics(self) -> ChannelStatistics:
        """A snapshot: capacity, buffered length, items sent and received, closed."""
        with self._lock:
            return ChannelStatistics(
                self._capacity,
                len(self._buffer),
                self._put,
                self._taken,
                self._closed,
                self._waiting_senders,
                self._waiting_receivers,
            )

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Channel {self.name!r} {len(self._buffer)}/{self._capacity} {state}>"


_default_rng = random.Random()


def select(
    channels: Sequence[Channel[Any]],
    *,
    timeout: float | None = None,
    rng: random.Random | int | None = None,
) -> Selected:
    """Receive from whichever of ``channels`` is ready first (Go's ``select`` on receives).

    A channel is ready if it has an item, or is closed and drained (then the
    result has ``ok=False`` and ``value=None``). If several are ready, one is
    chosen uniformly at random, so no channel can starve the others; pass
    ``rng`` (a `random.Random` or a seed) to make the choice replayable.
    Raises `ChannelTimeout` if none is ready within ``timeout`` s
    (``timeout=0`` is Go's ``default:`` case).
    """
    if not channels:
        raise ValueError("select() needs at least one channel")
    chooser = random.Random(rng) if isinstance(rng, int) else (rng or _default_rng)
    deadline = _deadline(timeout)
    event = threading.Event()
    for channel in channels:
        channel._watch(event)
    try:
        order = list(range(len(channels)))
        while True:
            # Clear before polling: a send after this point sets the event again,
            # so the wait below cannot miss it.
            event.clear()
            chooser.shuffle(order)
            for index in order:
                ready, ok, value = channels[index]._poll()
                if ready:
                    return Selected(index, value, ok)
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                raise ChannelTimeout(f"select over {len(channels)} channels timed out")
            event.wait(remaining)
    finally:
        for channel in channels:
            channel._unwatch(event)
