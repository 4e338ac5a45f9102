"""Lamport clocks and an optional record of every message sent and received.

Every frame carries the sender's Lamport timestamp (a logical clock: +1 on each send,
``max(own, received) + 1`` on each receive), so events on different machines can be put
in an order that respects cause and effect. A ``Tracer`` given to a Server or Client
records a ``TraceEvent`` per send, receive and fault-policy drop; a notebook hands the
events to ``distlab.viz.message_diagram`` to draw a message-sequence diagram.

What it must never do: slow down untraced calls (the clock is one lock and an int; with
no tracer nothing else happens) or grow without bound (``max_events``, oldest dropped).
Where it fits: used by ``server.py`` and ``client.py``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

from distlab.rpc.codec import MAX_LAMPORT


class LamportClock:
    """A thread-safe Lamport clock that never leaves ``0..MAX_LAMPORT``.

    Every value it returns goes on the wire, where a timestamp must fit the documented
    range (docs/WIRE_FORMAT.md §3). A peer may legally send ``MAX_LAMPORT`` itself, so the
    clock *saturates* there instead of growing past it: the one place where timestamps
    stop increasing. Honest peers, ticking once per message, would need 2**63 messages to
    get there; only a hostile or broken one can, and then the clock stays usable.
    """

    __slots__ = ("_lock", "_time")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._time = 0

    def tick(self) -> int:
        """A local event (e.g. sending): advance and return the new time."""
        with self._lock:
            if self._time < MAX_LAMPORT:
                self._time += 1
            return self._time

    def observe(self, received: int) -> int:
        """A receive carrying ``received``: jump past it and return the new time.

        ``received`` must already be range checked (``codec.parse_*`` do it); a value
        outside the range raises ValueError rather than corrupt the clock.
        """
        if received > MAX_LAMPORT or received < 0:
            raise ValueError(f"Lamport timestamp {received} is outside 0..{MAX_LAMPORT}")
        with self._lock:
            now = received if received > self._time else self._time
            self._time = now = now + 1 if now < MAX_LAMPORT else MAX_LAMPORT
            return now

    @property
    def time(self) -> int:
        """The current value."""
        return self._time


@dataclass(frozen=True)
class TraceEvent:
    """One send, receive or drop, as seen by ``node``.

    ``kind`` is "send", "recv" or "drop"; ``message`` is "request" or "reply";
    ``peer`` is the other end's name; ``lamport`` is the node's clock after the event.
    """

    wall_time: float
    node: str
    peer: str
    kind: str
    message: str
    method: str
    request_id: int
    lamport: int
    note: str = ""


@dataclass(frozen=True)
class TracerStatistics:
    """How many events were recorded and how many were discarded by the size bound."""

    recorded: int
    discarded: int


class Tracer:
    """Collects TraceEvents from any number of Servers and Clients (thread-safe)."""

    def __init__(self, max_events: int = 100_000) -> None:
        self._events: deque[TraceEvent] = deque(maxlen=max_events)
        self._lock = threading.Lock()
        self._recorded = 0
        self._discarded = 0

    def record(
        self,
        node: str,
        peer: str,
        kind: str,
        message: str,
        method: str,
        request_id: int,
        lamport: int,
        note: str = "",
    ) -> None:
        """Add one event (called by the transport)."""
        event = TraceEvent(
            time.time(), node, peer, kind, message, method, request_id, lamport, note
        )
        with self._lock:
            if len(self._events) == self._events.maxlen:
                self._discarded += 1  # the deque drops the oldest event
            self._events.append(event)
            self._recorded += 1

    def events(self) -> list[TraceEvent]:
        """A snapshot of the recorded events, in recording order."""
        with self._lock:
            return list(self._events)

    def clear(self) -> None:
        """Forget every event."""
        with self._lock:
            self._events.clear()

    def statistics(self) -> TracerStatistics:
        """Counts of recorded and discarded events."""
        with self._lock:
            return TracerStatistics(self._recorded, self._discarded)
