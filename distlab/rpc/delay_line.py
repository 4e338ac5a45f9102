"""A single timer thread that runs small actions later: delayed sends and call deadlines.

The fault policy decides *that* a message is delayed; the DelayLine does the waiting,
so no thread is created per message or per call. Actions must be quick and must not
block (a send on a socket, failing a future).

What it must never do: run an action after ``close()`` returns, or let an exception
from one action stop the others. Where it fits: owned by a Client or a Server.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("distlab.rpc")


class DelayLine:
    """Runs ``action(*args)`` after a delay, on one lazily started daemon thread."""

    def __init__(self, name: str = "rpc-delay-line") -> None:
        self._name = name
        self._heap: list[tuple[float, int, Callable[..., Any], tuple]] = []
        self._counter = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    def schedule(self, delay_s: float, action: Callable[..., Any], *args: Any) -> bool:
        """Run ``action(*args)`` in ``delay_s`` seconds; False (and nothing runs) after close."""
        due = time.monotonic() + delay_s
        with self._cond:
            if self._closed:
                return False
            heapq.heappush(self._heap, (due, next(self._counter), action, args))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif self._heap[0][0] == due:
                self._cond.notify()
        return True

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._closed:
                    if self._heap:
                        wait = self._heap[0][0] - time.monotonic()
                        if wait <= 0:
                            break
                        self._cond.wait(wait)
                    else:
                        self._cond.wait()
                if self._closed:
                    return
                _, _, action, args = heapq.heappop(self._heap)
            try:
                action(*args)
            except Exception:  # one failing action must not stop the line
                log.exception("delayed action %r failed", action)

    def close(self) -> None:
        """Drop pending actions and join the thread."""
        with self._cond:
            self._closed = True
            self._heap.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
