"""Virtual time for the simulator: a tick counter and a queue of future events.

What it is: `EventQueue`, a heap of (time, sequence, item) so that events due at
the same tick come out in the order they were scheduled (determinism).
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
        self._heap: list[tuple[int, int, Any]] = []
        self._sequence = 0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at: int, item: Any) -> None:
        """Run ``item`` at tick ``at`` (which must not be in the past)."""
        if at < self.now:
            raise ValueError(f"cannot schedule at tick {at}: it is already tick {self.now}")
        self._sequence += 1
        heapq.heappush(self._heap, (at, self._sequence, item))

    def pop_due(self) -> Any | None:
        """The next item due at or before ``now``, or None."""
        if self._heap and self._heap[0][0] <= self.now:
            return heapq.heappop(self._heap)[2]
        return None

    def clear(self) -> None:
        """Forget every scheduled event."""
        self._heap.clear()
