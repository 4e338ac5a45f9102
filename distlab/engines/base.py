"""The adapter interface every engine (etcd, Redis) offers, and its error type.

distlab's checker only needs *operations with outcomes*; the nemesis only needs *control
verbs*. An engine adapter supplies both, with the same names as `distlab.cluster.Cluster`
so the same fault schedule can drive distlab's own store and a real one:

- a client per member: ``put(key, value)``, ``get(key) -> str`` (a missing key reads as ""),
  ``append(key, suffix)`` (natively, or the closest atomic equivalent the engine has);
  a failed call raises `EngineError` whose ``definite`` says whether it surely did not
  happen — the distinction `History.record` turns into ``fail`` versus ``info``;
- control: ``names``, ``crash`` (kill -9), ``restart``, ``pause`` (SIGSTOP), ``resume``,
  ``partition(*groups)``, ``isolate(name)``, ``heal``, ``status()``, ``events()``, ``close``.

A partition here separates the *servers* from one another; clients can still reach every
server, as if some clients sat on each side. That is what lets a client read from a
member that has been cut off.

This module is pure interface: no processes, no I/O.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from distlab.core.errors import RequestFailed

__all__ = [
    "Engine",
    "EngineClient",
    "EngineError",
    "EngineEvent",
    "EngineStatistics",
    "MemberStatus",
]


class EngineError(RequestFailed):
    """A client call that failed. ``definite``: it certainly did not take effect.

    Only a refusal that proves the request never ran is definite (connection refused, a
    write the server rejected before executing it). A timeout or a broken connection is
    indefinite: the write may have happened, possibly later.
    """


class EngineClient(Protocol):
    """What a workload needs from one connection to one member."""

    def put(self, key: str, value: str) -> None: ...
    def get(self, key: str) -> str: ...
    def append(self, key: str, suffix: str) -> None: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class MemberStatus:
    """One member as the controller sees it (same shape as distlab.cluster.NodeStatus).

    ``state``: "up", "paused", "crashed" or "unresponsive"; ``fields`` holds what the engine
    reports, with at least ``role`` ("leader"/"follower" for etcd, "primary"/"replica"
    for Redis) when the member answered.
    """

    name: str
    state: str
    alive: bool
    pid: int | None
    address: tuple[str, int] | None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineEvent:
    """A control action on the engine (for the experiment's trace)."""

    time: int  # time.monotonic_ns(), the clock a History uses
    member: str  # or "*" for the whole engine
    kind: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.member} {self.detail}".rstrip()


@dataclass(frozen=True)
class EngineStatistics:
    """What the controller has done to an engine so far, and how many members are up."""

    members: int
    up: int
    faults_injected: int  # crash + pause + partition actions
    crashes: int
    restarts: int


class Engine(ABC):
    """Members of a real system running on loopback, and the verbs to break them."""

    system: str = "engine"

    def __init__(self) -> None:
        self._events: list[EngineEvent] = []

    @property
    @abstractmethod
    def names(self) -> list[str]:
        """Member names, e.g. ["n0", "n1", "n2"]."""

    @abstractmethod
    def client(self, name: str, *, timeout_s: float = 2.0) -> EngineClient:
        """A new client connected to member ``name`` (an engine may add options of its own,
        such as etcd's ``serializable``)."""

    @abstractmethod
    def crash(self, name: str) -> None:
        """kill -9 member ``name``."""

    @abstractmethod
    def restart(self, name: str) -> None:
        """Start a crashed member again from its data directory."""

    @abstractmethod
    def pause(self, name: str) -> None:
        """SIGSTOP member ``name``."""

    @abstractmethod
    def resume(self, name: str) -> None:
        """SIGCONT member ``name``."""

    @abstractmethod
    def partition(self, *groups: Iterable[str]) -> None:
        """Cut all server-to-server traffic between the groups (replaces any partition)."""

    @abstractmethod
    def heal(self) -> None:
        """Remove every partition."""

    @abstractmethod
    def status(self) -> dict[str, MemberStatus]:
        """Each member's state and role."""

    @abstractmethod
    def close(self) -> None:
        """Stop every process and proxy; remove temporary data."""

    def isolate(self, name: str) -> None:
        """Partition member ``name`` from all the others."""
        self.partition([name], [other for other in self.names if other != name])

    def statistics(self) -> EngineStatistics:
        """Counts of members up and of faults injected (from `events`)."""
        kinds = [event.kind for event in self._events]
        up = sum(status.alive for status in self.status().values())
        return EngineStatistics(
            members=len(self.names),
            up=up,
            faults_injected=sum(k in ("crash", "pause", "partition") for k in kinds),
            crashes=kinds.count("crash"),
            restarts=kinds.count("restart"),
        )

    def events(self) -> list[EngineEvent]:
        """The control actions so far, in order."""
        return list(self._events)

    def _record(self, kind: str, member: str, detail: str = "") -> None:
        self._events.append(EngineEvent(time.monotonic_ns(), member, kind, detail))

    def _check_member(self, name: str) -> None:
        if name not in self.names:
            raise ValueError(f"no member named {name!r}; members are {self.names}")

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
