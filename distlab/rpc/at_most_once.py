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
4. Bytes. The stored replies, counted as their encoded size plus ``ENTRY_OVERHEAD_BYTES``
   per entry and ``CLIENT_OVERHEAD_BYTES`` plus the id per client, stay under
   ``max_bytes`` (the counts of rules 2 and 3 alone would allow 1,024 x 1,024 replies of
   up to a frame each). Over budget, finished replies are forgotten as in rule 2 (treated
   as acknowledged: a later copy is ``Stale``, never run again), from the least recently
   seen client first and oldest seq first. A reply larger than the whole budget is thus
   sent once and never stored.
5. Joiners. At most ``max_waiters_per_entry`` copies of one running request wait for its
   reply; an older waiting copy is dropped (left unanswered) for a newer one, so repeating
   a slow request cannot grow the table.

The client's half, ``ClientSession``, keeps the sequence numbers: it is thread-safe (one
lock) and draws a random id, so it is not pure; ``DuplicateTable`` is: no sockets,
threads or clocks; the server calls ``begin``/``finish`` under its lock.
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

# Rough costs of the bookkeeping around a stored reply (dict slots, small objects), so
# that a flood of tiny replies also counts against ``max_bytes``.
ENTRY_OVERHEAD_BYTES = 200
CLIENT_OVERHEAD_BYTES = 500
DEFAULT_MAX_BYTES = 64 * 1024 * 1024


@dataclass
class _Entry:
    done: bool = False
    reply: Any = None
    waiters: list = field(default_factory=list)
    size_bytes: int = ENTRY_OVERHEAD_BYTES


@dataclass
class _ClientRecord:
    acked: int = 0
    entries: dict[int, _Entry] = field(default_factory=dict)
    size_bytes: int = CLIENT_OVERHEAD_BYTES  # this record and all its entries


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
    size_bytes: int = 0
    forgotten_for_bytes: int = 0
    dropped_waiters: int = 0


class DuplicateTable:
    """The server's memory of replies, per client, with bounded size (see module doc)."""

    def __init__(
        self,
        max_clients: int = 1024,
        max_entries_per_client: int = 1024,
        *,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_waiters_per_entry: int = 16,
    ) -> None:
        if min(max_clients, max_entries_per_client, max_bytes, max_waiters_per_entry) < 1:
            raise ValueError(
                "max_clients, max_entries_per_client, max_bytes and max_waiters_per_entry "
                "must be >= 1"
            )
        self.max_clients = max_clients
        self.max_entries_per_client = max_entries_per_client
        self.max_bytes = max_bytes
        self.max_waiters_per_entry = max_waiters_per_entry
        self._clients: OrderedDict[str, _ClientRecord] = OrderedDict()
        self._size_bytes = 0
        self._counts = dict.fromkeys(
            (
                "executed",
                "replayed",
                "joined_in_progress",
                "stale",
                "expired",
                "evicted",
                "forgotten_for_bytes",
                "dropped_waiters",
            ),
            0,
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
            record.size_bytes += len(client_id)
            self._size_bytes += record.size_bytes
            while len(self._clients) > self.max_clients:
                _, evicted = self._clients.popitem(last=False)
                self._size_bytes -= evicted.size_bytes
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
            record.size_bytes += ENTRY_OVERHEAD_BYTES
            self._size_bytes += ENTRY_OVERHEAD_BYTES
            self._counts["executed"] += 1
            return Execute()
        if entry.done:
            self._counts["replayed"] += 1
            return Cached(entry.reply)
        if len(entry.waiters) >= self.max_waiters_per_entry:
            del entry.waiters[0]  # rule 5: the oldest waiting copy goes unanswered
            self._counts["dropped_waiters"] += 1
        entry.waiters.append(waiter)
        self._counts["joined_in_progress"] += 1
        return InProgress()

    def finish(self, client_id: str, seq: int, reply: Any, reply_bytes: int = 0) -> list:
        """Store the reply of an executed request; return the waiters that joined it.

        ``reply_bytes`` is the reply's encoded size, what storing it costs (rule 4).
        """
        record = self._clients.get(client_id)
        if record is None:
            return []
        entry = record.entries.get(seq)
        if entry is None:
            return []
        waiters, entry.waiters = entry.waiters, []
        if seq <= record.acked:  # acknowledged (given up) while it ran: nothing to keep
            self._delete(record, seq)
            return waiters
        entry.done, entry.reply = True, reply
        entry.size_bytes += reply_bytes
        record.size_bytes += reply_bytes
        self._size_bytes += reply_bytes
        done = [s for s, e in record.entries.items() if e.done]
        if len(done) > self.max_entries_per_client:
            done.sort()
            self._forget_through(record, done[len(done) - self.max_entries_per_client - 1])
        if self._size_bytes > self.max_bytes:
            self._shrink_to_budget()
        return waiters

    def _shrink_to_budget(self) -> None:
        # Rule 4: forget finished replies, least recently seen client first, oldest seq
        # first, as if acknowledged. Entries still running stay: their handlers hold
        # whatever memory they hold anyway, and forgetting them could run them twice.
        for record in list(self._clients.values()):
            for seq in sorted(s for s, e in record.entries.items() if e.done):
                if self._size_bytes <= self.max_bytes:
                    return
                self._forget_through(record, seq)
                self._counts["forgotten_for_bytes"] += 1

    def _forget_through(self, record: _ClientRecord, ack: int) -> None:
        record.acked = max(record.acked, ack)
        for seq in [s for s, e in record.entries.items() if s <= ack and e.done]:
            self._delete(record, seq)

    def _delete(self, record: _ClientRecord, seq: int) -> None:
        entry = record.entries.pop(seq)
        record.size_bytes -= entry.size_bytes
        self._size_bytes -= entry.size_bytes

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
            size_bytes=self._size_bytes,
            forgotten_for_bytes=c["forgotten_for_bytes"],
            dropped_waiters=c["dropped_waiters"],
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
