"""Recipes: locks, counters, leader election and configuration from a few znode primitives.

Every recipe here talks to its client only through kazoo's API -- ``create``, ``get``,
``set``, ``delete``, ``exists``, ``get_children`` with watch callbacks,
``client.handler.event_object()`` and kazoo's exceptions -- so the same code runs on
distlab's `CoordClient` and on a real ZooKeeper through ``kazoo.client.KazooClient``.

- `Counter`: read, add, write back *conditionally* (``set(version=...)``); a write that lost
  the race gets ``BadVersionError`` and tries again. No lock needed.
- `Lock`: the herd-free lock. Each contender creates a *sequential ephemeral* znode
  (顺序临时节点) under the lock's path; the lowest number holds the lock; every other
  contender watches only the znode just before its own. A release (or a holder's session
  expiring) wakes exactly one waiter: O(1) notifications per release, O(n) for n holders.
- `NaiveLock`: everyone tries to create one ephemeral znode and, failing, watches it. Every
  release wakes *all* waiters, who rush to create it again: the herd effect (羊群效应),
  O(n) notifications per release, O(n²) in all.
- `LeaderElection`: the herd-free lock whose holder is the leader; ``leader()`` names it.
- `write_config` / `read_config`: the paper's "ready" znode. The writer deletes ``ready``,
  writes the keys, creates ``ready``; a reader that sees ``ready`` sees every key written
  before it, because its server answers in the order of the log (FIFO client order).

A lock holder gets a **fencing token** (the number of its znode): a `FencedResource` that
refuses a token older than one it has seen keeps a holder that was paused -- whose session
expired, so another client now holds the lock -- from writing after the new holder.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any

from kazoo.exceptions import BadVersionError, ConnectionLoss, NodeExistsError, NoNodeError

from distlab.check.coordination import FencedWrite

__all__ = [
    "Counter",
    "FencedResource",
    "LeaderElection",
    "Lock",
    "LockLost",
    "NaiveLock",
    "read_config",
    "write_config",
]


class LockLost(Exception):
    """The contender's znode is gone (its session expired) or it gave up waiting."""


class Counter:
    """A shared counter by conditional ``set`` with retries (see the module docstring)."""

    def __init__(self, client: Any, path: str) -> None:
        self.client, self.path = client, path
        self.retries = 0
        with contextlib.suppress(NodeExistsError):
            client.create(path, b"0", makepath=True)

    def add(self, delta: int = 1) -> int:
        """Add ``delta``; the new value."""
        while True:
            data, stat = self.client.get(self.path)
            value = int(data or b"0") + delta
            try:
                self.client.set(self.path, str(value).encode(), version=stat.version)
                return value
            except BadVersionError:
                self.retries += 1  # someone wrote between our get and our set: again

    @property
    def value(self) -> int:
        return int(self.client.get(self.path)[0] or b"0")


def _sequence(name: str) -> int:
    return int(name[-10:])


_contender_numbers = itertools.count(1)


def retrying(client: Any, call: Callable[[], Any], attempts: int = 50) -> Any:
    """``call()``, again after a pause while it fails with ``ConnectionLoss`` (the server
    went away mid-call; a read is safe to repeat). The pause waits on the client's own
    event type, so in the simulator it is virtual time."""
    for attempt in range(attempts):
        try:
            return call()
        except ConnectionLoss:
            if attempt == attempts - 1:
                raise
            client.handler.event_object().wait(0.1)
    raise AssertionError("unreachable")


class Lock:
    """The herd-free lock (see the module docstring). ``acquire`` returns a fencing token."""

    prefix = "lock-"

    def __init__(self, client: Any, path: str, identifier: str = "") -> None:
        self.client, self.path, self.identifier = client, path.rstrip("/"), identifier
        self.node: str | None = None
        self.token: int | None = None
        self.wakeups = 0  # watch notifications this contender received
        self._watching: dict[str, Any] = {}  # the predecessor watched, and its event

    def acquire(self, timeout: float | None = None) -> int:
        """Block until this contender holds the lock; its fencing token."""
        client = self.client
        retrying(client, lambda: client.ensure_path(self.path))
        # A unique part in the name finds our znode again if the create's answer is lost
        # (ConnectionLoss): the znode may exist, and an orphan would block everyone.
        unique = f"{self.prefix}{os.getpid()}x{next(_contender_numbers)}-"
        self.node = self._create(unique)
        mine = self.node.rsplit("/", 1)[1]
        waited = 0.0
        while True:
            names = retrying(client, lambda: client.get_children(self.path))
            children = sorted((c for c in names if c.startswith(self.prefix)), key=_sequence)
            if mine not in children:
                raise LockLost(f"{self.node} is gone: the session expired")
            position = children.index(mine)
            if position == 0:
                self.token = _sequence(mine)
                return self.token
            predecessor = f"{self.path}/{self._watched(children, position)}"

            def wait(path: str = predecessor) -> bool:
                return self._wait_for(path)

            if retrying(client, wait):
                continue
            waited += 1.0
            if timeout is not None and waited >= timeout:
                self.release()
                raise LockLost(f"{self.node} gave up after {timeout} s")

    def _create(self, unique: str) -> str:
        client, data = self.client, self.identifier.encode()
        for _ in range(50):
            try:
                return str(
                    client.create(f"{self.path}/{unique}", data, ephemeral=True, sequence=True)
                )
            except ConnectionLoss:
                mine = [
                    c
                    for c in retrying(client, lambda: client.get_children(self.path))
                    if c.startswith(unique)
                ]
                if mine:
                    return f"{self.path}/{mine[0]}"
        raise LockLost(f"could not create a contender znode under {self.path}")

    def _watched(self, children: list[str], position: int) -> str:
        return children[position - 1]  # only the predecessor: one waiter wakes per release

    def _wait_for(self, path: str) -> bool:
        """Watch ``path``; True once it changed (or was already gone), False after 1 s.

        One watch per predecessor: waiting again re-checks that it exists (a watch can be
        lost when the session moves) without leaving a second watch that would fire twice.
        """
        changed = self._watching.get(path)
        if changed is None or changed.is_set():
            changed = self.client.handler.event_object()

            def wake(event: Any, changed: Any = changed) -> None:
                self.wakeups += 1
                changed.set()

            if self.client.exists(path, watch=wake) is None:
                return True
            self._watching = {path: changed}
        elif self.client.exists(path) is None:
            return True
        return bool(changed.wait(1.0))

    def release(self) -> None:
        """Give the lock up (delete our znode; the next contender's watch fires)."""
        if self.node is not None:
            node = self.node
            with contextlib.suppress(NoNodeError):
                retrying(self.client, lambda: self.client.delete(node))
            self.node = self.token = None

    def contenders(self) -> list[str]:
        """The identifiers of every contender, holder first."""
        children = sorted(self.client.get_children(self.path), key=_sequence)
        names = []
        for child in children:
            with contextlib.suppress(NoNodeError):
                names.append(self.client.get(f"{self.path}/{child}")[0].decode())
        return names

    def __enter__(self) -> Lock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class HerdLock(Lock):
    """A *broken* variant for the exercise: every waiter watches the holder's znode, so each
    release wakes them all (correct, but O(n²) notifications)."""

    def _watched(self, children: list[str], position: int) -> str:
        return children[0]


class NaiveLock:
    """One ephemeral znode; everyone who fails to create it watches it (the herd effect)."""

    def __init__(self, client: Any, path: str, identifier: str = "") -> None:
        self.client, self.path, self.identifier = client, path.rstrip("/"), identifier
        self.token: int | None = None
        self.wakeups = 0
        self._changed: Any = None  # the event of our watch on the holder's znode

    def acquire(self, timeout: float | None = None) -> int:
        holder = f"{self.path}/holder"
        self.client.ensure_path(self.path)
        waited = 0.0
        while True:
            try:
                self.client.create(holder, self.identifier.encode(), ephemeral=True)
                stat = self.client.exists(holder)
                self.token = int(stat.czxid) if stat is not None else 0
                return self.token
            except NodeExistsError:
                pass
            if self._changed is None or self._changed.is_set():
                changed = self.client.handler.event_object()

                def wake(event: Any, changed: Any = changed) -> None:
                    self.wakeups += 1
                    changed.set()

                if self.client.exists(holder, watch=wake) is None:
                    continue
                self._changed = changed
            elif self.client.exists(holder) is None:
                continue
            if not self._changed.wait(1.0):
                waited += 1.0
                if timeout is not None and waited >= timeout:
                    raise LockLost(f"{self.identifier} gave up after {timeout} s")

    def release(self) -> None:
        with contextlib.suppress(NoNodeError):
            self.client.delete(f"{self.path}/holder")
        self.token = None

    def __enter__(self) -> NaiveLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class LeaderElection(Lock):
    """Leader election (选主) is a lock nobody releases until it stops: ``acquire`` returns
    when this contender leads; ``leader()`` names the current leader for anyone."""

    prefix = "candidate-"

    def leader(self) -> str | None:
        """The identifier of the leading contender, as of the latest write (a ``sync``
        first: this client's server may not have applied the newest volunteers yet)."""
        retrying(self.client, lambda: self.client.sync(self.path))
        children = sorted(
            (c for c in self.client.get_children(self.path) if c.startswith(self.prefix)),
            key=_sequence,
        )
        for child in children:
            try:
                return bytes(self.client.get(f"{self.path}/{child}")[0]).decode()
            except NoNodeError:
                continue
        return None


def write_config(client: Any, path: str, config: dict[str, str]) -> None:
    """Publish ``config`` under ``path`` behind a "ready" znode (see the module docstring)."""
    client.ensure_path(path)
    with contextlib.suppress(NoNodeError):
        client.delete(f"{path}/ready")
    for key, value in sorted(config.items()):
        try:
            client.set(f"{path}/{key}", value.encode())
        except NoNodeError:
            client.create(f"{path}/{key}", value.encode())
    client.create(f"{path}/ready", json.dumps(sorted(config)).encode())


def read_config(client: Any, path: str) -> dict[str, str] | None:
    """The configuration if ``ready`` exists (None while a writer is mid-way)."""
    try:
        keys = json.loads(bytes(client.get(f"{path}/ready")[0]).decode())
    except NoNodeError:
        return None
    return {key: bytes(client.get(f"{path}/{key}")[0]).decode() for key in keys}


class FencedResource:
    """A storage service a lock protects. With ``check_tokens`` it refuses a write whose
    fencing token is older than the newest it has accepted; every write is logged as a
    `FencedWrite` for `distlab.check.check_fenced_writes`."""

    def __init__(self, check_tokens: bool = True) -> None:
        self.check_tokens = check_tokens
        self.value: str | None = None
        self.writes: list[FencedWrite] = []
        self._newest = -1
        self._lock = threading.Lock()

    def write(self, client: Hashable, token: int, value: str) -> bool:
        """Store ``value`` for a holder of ``token``; False if refused as out of date."""
        with self._lock:
            accepted = not (self.check_tokens and token < self._newest)
            if accepted:
                self.value = value
                self._newest = max(self._newest, token)
            self.writes.append(FencedWrite(client, token, accepted))
            return accepted
