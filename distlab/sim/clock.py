"""Virtual time for the simulator: a tick counter and a queue of future events.

What it is: `EventQueue`, one list of events per future tick (a "calendar" of
buckets) plus a small heap of the ticks that have a bucket. Events due at the
same tick come out in the order they were scheduled (determinism): a bucket is
only ever appended to, so its order is the scheduling order. That is exactly
the order of a heap of (time, sequence, item), at the cost of a dict lookup and
an append per event instead of a tuple and a heap push, and the simulator can
take a whole tick's events at once (`take_due`). It schedules one event per
message, so this is on its hottest path. Ticks are integers and delays short,
so there are few buckets at any time.
What it must never do: read the wall clock or sleep; time moves only when the
simulation says so.
Where it fits: `distlab.sim.simulation.Simulation` schedules message deliveries
here and advances ``now`` one tick at a time.
"""

from __future__ import annotations

import heapq
from typing import Any


class EventQueue:
    """Future events ordered by due tick, ties broken by scheduling order."""

    def __init__(self) -> None:
        self.now = 0
        self._buckets: dict[int, list[Any]] = {}
        self._ticks: list[int] = []  # a heap of the ticks that have a bucket
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def schedule(self, at: int, item: Any) -> None:
        """Run ``item`` at tick ``at`` (which must not be in the past)."""
        if at < self.now:
            raise ValueError(f"cannot schedule at tick {at}: it is already tick {self.now}")
        bucket = self._buckets.get(at)
        if bucket is None:
            self._buckets[at] = [item]
            heapq.heappush(self._ticks, at)
        else:
            bucket.append(item)
        self._size += 1

    def take_due(self) -> list[Any] | None:
        """All items of the earliest tick at or before ``now``, in scheduling order; or None.

        Call it until it returns None: an item scheduled for ``now`` while the
        returned ones are handled lands in a new bucket, so it comes out next,
        after them (as its later scheduling demands).
        """
        ticks = self._ticks
        if ticks and ticks[0] <= self.now:
            bucket = self._buckets.pop(heapq.heappop(ticks))
            self._size -= len(bucket)
            return bucket
        return None

    def pop_due(self) -> Any | None:
        """The next item due at or before ``now``, or None."""
        ticks = self._ticks
        if ticks and ticks[0] <= self.now:
            bucket = self._buckets[ticks[0]]
            item = bucket.pop(0)
            if not bucket:
                del self._buckets[heapq.heappop(ticks)]
            self._size -= 1
            return item
        return None

    def clear(self) -> None:
        """Forget every scheduled event."""
        self._buckets.clear()
        self._ticks.clear()
        self._size = 0
