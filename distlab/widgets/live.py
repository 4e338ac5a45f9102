"""Live refresh for a panel: redraw from a background thread while work runs.

What it is: `LiveRefresh`, a mixin that gives a panel with a ``refresh()`` method
``start_live(interval_s)`` and ``stop_live()``: one daemon thread calls ``refresh()`` every
``interval_s`` seconds until it is stopped, or until a refresh fails (the cluster was closed
under it: the thread stops quietly).
What it must never do: hold a lock of its own while it refreshes, or outlive ``stop_live``
by more than one interval.
"""

from __future__ import annotations

import threading
from typing import ClassVar

__all__ = ["LiveRefresh"]


class LiveRefresh:
    """``start_live`` / ``stop_live`` for a panel with ``refresh()`` (see the module docstring)."""

    #: How often a live panel redraws when ``start_live`` is not told (seconds).
    live_interval_s: ClassVar[float] = 1.0
    #: The refresh thread's name (what ``ps`` and a thread dump show).
    live_thread_name: ClassVar[str] = "live-refresh"
    _live: threading.Event | None = None

    def refresh(self) -> None:
        raise NotImplementedError

    def start_live(self, interval_s: float | None = None) -> None:
        """Redraw every ``interval_s`` seconds (default ``live_interval_s``) from a
        background thread, until `stop_live`."""
        self.stop_live()
        stop = self._live = threading.Event()
        every = self.live_interval_s if interval_s is None else interval_s

        def loop() -> None:
            while not stop.wait(every):
                try:
                    self.refresh()
                except Exception:  # the cluster was closed under us: stop quietly
                    return

        threading.Thread(target=loop, name=self.live_thread_name, daemon=True).start()

    def stop_live(self) -> None:
        """Stop the live refresh."""
        if self._live is not None:
            self._live.set()
            self._live = None
