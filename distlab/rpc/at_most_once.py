"""At-most-once execution: a duplicate table on the server, sequence numbers on the client.

A client that retries after a timeout cannot know whether its first attempt ran, so a
retried non-idempotent call (append, deposit) may run twice: *at-least-once*. For
*at-most-once*, each logical call carries ``(client_id, seq)``; every retry of it reuses
the same pair. The server remembers, per client, the reply of each seq it ran, and
answers a repeat from that memory instead of running the handler again.

Bounded memory — the forgetting rule:

1. Acknowledgement. Each request also carries ``ack``: the client has received (or
   given up on) every seq <= ack. The server then forgets those replies, and refuses
   (``Stale``) any later copy of a seq <= ack — a delayed network duplicate — without
   running it. A client therefore costs memory only for its calls still in flight.
2. Per-client cap. If a client leaves more than ``max_entries_per_client`` finished
   entries unacknowledged, the oldest are forgotten and treated as acknowledged.
3. LRU over clients. At most ``max_clients`` clients are remembered; the least recently
   seen one is forgotten. A forgotten client whose request shows it has history
   (``ack > 0``) gets ``Expired`` (error ``session_expired``, not definite) instead of a
   possibly second execution. A client that never had a reply (``ack == 0``) is
   indistinguishable from a new one: keep ``max_clients`` above the number of clients
   active at once.

Pure: no sockets, threads or clocks; the server calls ``begin``/``finish`` under its lock.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Execute:
    """A new request: run the handler, then call ``finish``."""


@dataclass(frozen=True)
class Cached:
    """A repeat of a finished request: send this stored reply, do not run anything."""

    reply: Any


@dataclass(frozen=True)
class InProgress:
    """A repeat of a request still running: the waiter was queued for its reply."""


@dataclass(frozen=True)
class Stale:
    """A copy of a request the client already acknowledged: ignore it (never run it)."""


@dataclass(frozen=True)
class Expired:
    """The client was forgotten (LRU): refuse rather than risk running a request twice."""


Decision = Execute | Cached | InProgress | Stale | Expired


@dataclass
class _Entry:
    done: bool = False
    reply: Any = None
    waiters: list = field(default_factory=list)


@dataclass
class _ClientRecord:
    acked: int = 0
    entries: dict[int, _Entry] = field(default_factory=dict)


@dataclass(frozen=True)
class DuplicateTableStatistics:
    """Sizes and counts of the duplicate table."""

    clients: int
    entries: int
    executed: int
    replayed: int
    joined_in_progress: int
    stale: int
    expired: int
    evicted_clients: int


class DuplicateTable:
    """The server's memory of replies, per client, with bounded size (see module doc)."""

    def __init__(self, max_clients: int = 1024, max_entries_per_client: int = 1024) -> None:
        if max_clients < 1 or max_entries_per_client < 1:
            raise ValueError("max_clients and max_entries_per_client must be >= 1")
        self.max_clients = max_clients
        self.max_entries_per_client = max_entries_per_client
        self._clients: OrderedDict[str, _ClientRecord] = OrderedDict()
        self._counts = dict.fromkeys(
            ("executed", "replayed", "joined_in_progress", "stale", "expired", "evicted"), 0
        )

    def begin(self, client_id: str, seq: int, ack: int, waiter: Any = None) -> Decision:
        """Decide what to do with request ``seq`` of ``client_id`` (which acknowledged ``ack``).

        On ``InProgress`` the ``waiter`` is stored and returned later by ``finish``.
        """
        record = self._clients.get(client_id)
        if record is None:
            if ack > 0:
                self._counts["expired"] += 1
                return Expired()
            record = self._clients[client_id] = _ClientRecord()
            while len(self._clients) > self.max_clients:
                self._clients.popitem(last=False)
                self._counts["evicted"] += 1
        else:
            self._clients.move_to_end(client_id)
        if ack > record.acked:
            self._forget_through(record, ack)
        if seq <= record.acked:
            self._counts["stale"] += 1
            return Stale()
        entry = record.entries.get(seq)
        if entry is None:
            record.entries[seq] = _Entry()
            self._counts["executed"] += 1
            return Execute()
        if entry.done:
            self._counts["replayed"] += 1
            return Cached(entry.reply)
        entry.waiters.append(waiter)
        self._counts["joined_in_progress"] += 1
        return InProgress()

    def finish(self, client_id: str, seq: int, reply: Any) -> list:
        """Store the reply of an executed request; return the waiters that joined it."""
        record = self._clients.get(client_id)
        if record is None:
            return []
        entry = record.entries.get(seq)
        if entry is None:
            return []
        waiters, entry.waiters = entry.waiters, []
        if seq <= record.acked:  # acknowledged (given up) while it ran: nothing to keep
            del record.entries[seq]
            return waiters
        entry.done, entry.reply = True, reply
        done = [s for s, e in record.entries.items() if e.done]
        if len(done) > self.max_entries_per_client:
            done.sort()
            self._forget_through(record, done[len(done) - self.max_entries_per_client - 1])
        return waiters

    @staticmethod
    def _forget_through(record: _ClientRecord, ack: int) -> None:
        record.acked = max(record.acked, ack)
        for seq in [s for s, e in record.entries.items() if s <= ack and e.done]:
            del record.entries[seq]

    def statistics(self) -> DuplicateTableStatistics:
        """How big the table is and what it decided."""
        c = self._counts
        return DuplicateTableStatistics(
            clients=len(self._clients),
            entries=sum(len(r.entries) for r in self._clients.values()),
            executed=c["executed"],
            replayed=c["replayed"],
            joined_in_progress=c["joined_in_progress"],
            stale=c["stale"],
            expired=c["expired"],
            evicted_clients=c["evicted"],
        )


class ClientSession:
    """The client's half: a random id, sequence numbers, and the acknowledgement floor.

    Thread-safe. ``start()`` gives a new seq; ``end(seq)`` marks it answered or
    abandoned; ``ack`` is the highest N with every seq <= N ended.
    """

    def __init__(self, client_id: str | None = None) -> None:
        self.client_id = client_id or os.urandom(8).hex()
        self._lock = threading.Lock()
        self._last = 0
        self._open: set[int] = set()

    def start(self) -> int:
        """A fresh sequence number for a new logical call."""
        with self._lock:
            self._last += 1
            self._open.add(self._last)
            return self._last

    def end(self, seq: int) -> None:
        """The call ``seq`` got its reply or was given up: the server may forget it."""
        with self._lock:
            self._open.discard(seq)

    @property
    def ack(self) -> int:
        """Every seq <= ack has ended."""
        with self._lock:
            return min(self._open) - 1 if self._open else self._last
