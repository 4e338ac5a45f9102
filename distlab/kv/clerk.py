"""The Clerk: the KV client every mode shares — put, get, append, retried, at most once.

6.824 lab 3's Clerk. A learner calls ``clerk.put("x", "1")`` and does not care which server
answers. Underneath, each operation becomes a ``Command(client_id, seq, op, key, value)``:

- the client id is fixed for the Clerk's life, and ``seq`` counts its operations from 1;
  every retry of one operation carries the *same* seq, so the servers' duplicate table
  applies it at most once (strong mode: the table is in the replicated KVStateMachine, so
  a retry that reaches a new leader is still recognised);
- an attempt that fails is retried on another server, with a bounded exponential backoff,
  until the operation's overall deadline; then the Clerk gives up.

How an operation ends — what the history records (invoke and completion times):

- ``ok`` — a server applied it and answered;
- ``fail`` (:class:`KVUnavailable`, ``definite=True``) — every attempt was refused before
  anything could have happened (no server reachable, nobody was leader): it did not happen;
- ``info`` (:class:`KVTimeout`, ``definite=False``) — some attempt may have been applied
  (a timeout, a lost reply): the effect may land later, or never.

Three modes, one API (``consistency=``), one retry loop: the mode is turned once, in the
constructor, into a *route* -- how one attempt at one server goes -- and the loop never
looks at the mode again:

- ``"strong"`` (`StrongRoute`): sends ``Replicated.submit(command, timeout)`` to the leader
  it believes in and matches the typed reply (:mod:`distlab.replicated.replies`): `Applied`
  answers, `NotLeader` names the leader (or it tries the next server), `LostLeadership`
  is a definite refusal, `TimedOut` an indefinite one. A get goes either through the log
  like a write (``reads="log"``) or, by default, to ``Replicated.read(key)``
  (``reads="read_index"``): the leader confirms with one round of heartbeats that it still
  leads, waits until it has applied its commit index, and answers from its own table --
  linearizable without writing a log entry (the Raft thesis §6.4). With
  ``reads="follower"`` each get starts at a node of the Clerk's seeded choice, leader or
  not, with ``Replicated.read(key, timeout, True)``: a follower asks the leader for the
  read index and answers from its own table (§6.4's follower reads), so the gets of many
  clerks spread over the whole cluster.
- ``"weak"`` (`WeakRoute`): sends ``WeakKV.execute(command)`` to one *sticky* replica
  (``preferred``) and fails over to the next one only on error; each replica answers from
  its own copy.
- ``"quorum"`` (`QuorumRoute`): the Clerk itself coordinates N replicas (``QuorumKV``, see
  :mod:`distlab.kv.quorum_node`): a read asks ``r`` replicas (``preferred`` first); what
  to write next is decided by the pure :func:`distlab.kv.quorum.plan_after_read` (ABD):
  a put or append writes under a new stamp, a get writes back what it read when r + w > N
  (so puts and gets are linearizable; with r + w <= N reads can be stale); the write goes
  to all N and ``w`` acks complete it. A retried write reuses its stamp and value, so it
  applies once.

Commands and results travel in the KV codec (``distlab.kv.state_machine.CODEC``).

What it must never do: issue two operations at once (it is sequential, like a lab-3 Clerk;
give each thread its own), report ``ok`` without a server's answer, or wait without a
deadline. It uses only ``distlab.rpc``; it never starts processes.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
import uuid
from collections.abc import Callable, Hashable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from typing import Any

from distlab.check.history import History
from distlab.kv.quorum import quorums_intersect
from distlab.kv.routes import ROUTES, MaybeApplied, Refused, Route
from distlab.kv.state_machine import Command, OpKind
from distlab.rpc import Client, RpcError

__all__ = ["Clerk", "ClerkStatistics", "KVError", "KVTimeout", "KVUnavailable"]

Address = tuple[str, int]

READ_PATHS = ("read_index", "log", "follower")
"""How a strong Clerk's get reaches the state: ReadIndex at the leader (no log entry), the
log, or ReadIndex answered by any node (follower reads)."""


class KVError(Exception):
    """An operation the Clerk gave up on. ``definite``: it certainly did not happen."""

    definite: bool = False


class KVTimeout(KVError):
    """The deadline passed after an attempt that may have been applied (indefinite)."""

    definite = False


class KVUnavailable(KVError):
    """The deadline passed and no attempt can have been applied (definite failure)."""

    definite = True


@dataclass(frozen=True)
class ClerkStatistics:
    """What the Clerk has done so far."""

    operations: int
    ok: int
    failed: int
    indefinite: int
    attempts: int
    retries: int
    redirects: int  # not_leader answers that named a leader
    failovers: int  # switches to another server after an error
    server: str | None  # the server it would try next (the leader it believes in)


class KVOperations:
    """The KV client's three calls, in terms of one ``_operation(op, key, value) -> str``
    (the real `Clerk` and the simulator's `distlab.kv.simulated.SimClerk` share them)."""

    def get(self, key: str) -> str:
        """The value of ``key`` ("" if it was never written)."""
        return self._operation("get", key, "")

    def put(self, key: str, value: str) -> None:
        """Set ``key`` to ``value``."""
        self._operation("put", key, value)

    def append(self, key: str, suffix: str) -> None:
        """Append ``suffix`` to ``key``'s value."""
        self._operation("append", key, suffix)

    def _operation(self, op: OpKind, key: str, value: str) -> str:
        raise NotImplementedError


class Clerk(KVOperations):
    """A KV client for a replicated store (see the module docstring).

    ``servers`` maps node names to rpc addresses, or is a callable returning that map (read
    before every attempt, so a restarted node's new port is found). ``history`` records
    every operation under the name ``history_client`` (default: the client id).
    """

    def __init__(
        self,
        servers: Mapping[str, Address] | Callable[[], Mapping[str, Address]],
        *,
        consistency: str = "strong",
        client_id: str | None = None,
        preferred: str | None = None,
        deadline_s: float = 5.0,
        attempt_timeout_s: float = 1.0,
        backoff_s: tuple[float, float] = (0.01, 0.2),
        history: History | None = None,
        history_client: Hashable | None = None,
        seed: int = 0,
        secret: str | None = None,
        r: int | None = None,
        w: int | None = None,
        reads: str = "read_index",
    ) -> None:
        if reads not in READ_PATHS:
            raise ValueError(f"reads must be one of {READ_PATHS}, got {reads!r}")
        if consistency not in ROUTES:
            raise ValueError(f"consistency must be one of {tuple(ROUTES)}, got {consistency!r}")
        if deadline_s <= 0 or attempt_timeout_s <= 0:
            raise ValueError("deadline_s and attempt_timeout_s must be positive")
        if not 0 < backoff_s[0] <= backoff_s[1]:
            raise ValueError(f"backoff_s is (min, max) with 0 < min <= max, got {backoff_s}")
        self._servers = servers
        names = sorted(self._addresses())
        if not names:
            raise ValueError("a Clerk needs at least one server")
        if preferred is not None and preferred not in names:
            raise ValueError(f"preferred server {preferred!r} is not one of {names}")
        majority = len(names) // 2 + 1
        self.r = majority if r is None else int(r)
        self.w = majority if w is None else int(w)
        if not (1 <= self.r <= len(names) and 1 <= self.w <= len(names)):
            raise ValueError(f"need 1 <= r, w <= N = {len(names)}, got r={self.r}, w={self.w}")
        self.route: Route = ROUTES[consistency]()
        self.reads = reads
        self.client_id = client_id or f"clerk-{uuid.uuid4().hex[:8]}"
        self.deadline_s = deadline_s
        self.attempt_timeout_s = attempt_timeout_s
        self.backoff_s = backoff_s
        self.history = history
        self.history_client = history_client if history_client is not None else self.client_id
        self.secret = secret
        self._rng = random.Random(seed)
        self._seq = itertools.count(1)
        self._names = names
        # Strong: the leader we believe in. Weak: the sticky replica. Start at `preferred`,
        # else at a seeded choice (so many clerks spread over the servers).
        self._target = preferred if preferred is not None else self._rng.choice(names)
        self._clients: dict[str, tuple[Address, Client]] = {}
        self._busy = threading.Lock()
        self._stats_lock = threading.Lock()
        self._counts = dict.fromkeys(
            ("operations", "ok", "failed", "indefinite", "attempts", "retries", "redirects",
             "failovers"),
            0,
        )  # fmt: skip
        self._closed = False

    @property
    def consistency(self) -> str:
        """The mode this Clerk's route implements ("strong", "weak" or "quorum")."""
        return self.route.name

    @property
    def quorums_intersect(self) -> bool:
        """Quorum mode: do *this clerk's* read and write quorums meet (r + w > N)? It decides
        whether its reads write back what they read. Whether a read sees another client's
        write depends on that writer's w: ask `meets_writes_of`."""
        return quorums_intersect(len(self._names), self.r, self.w)

    def meets_writes_of(self, writer: Clerk) -> bool:
        """Quorum mode: is every read of this clerk (its r) sure to meet every write that
        ``writer`` completed (its w)? r + w > N, with each side's own size."""
        return quorums_intersect(len(self._names), self.r, writer.w)

    @classmethod
    def for_cluster(cls, cluster: Any, **options: Any) -> Clerk:
        """A Clerk for a running ``distlab.cluster.Cluster`` (the mode of its node program)."""
        options.setdefault("consistency", getattr(cluster.program_cls, "consistency", "strong"))
        options.setdefault("secret", cluster.secret)
        for quorum_option in ("r", "w"):
            if quorum_option in getattr(cluster, "options", {}):
                options.setdefault(quorum_option, cluster.options[quorum_option])
        names = list(cluster.names)
        return cls(lambda: {name: cluster.address(name) for name in names}, **options)

    # -- the API (get, put, append: KVOperations) -----------------------------------------
    def statistics(self) -> ClerkStatistics:
        """Counters of operations and attempts."""
        with self._stats_lock:
            return ClerkStatistics(**self._counts, server=self._target)

    def close(self) -> None:
        """Close the rpc connections."""
        self._closed = True
        for _, client in list(self._clients.values()):
            client.close()
        self._clients.clear()

    def __enter__(self) -> Clerk:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Clerk {self.client_id} {self.consistency} -> {self._target}>"

    # -- one operation -------------------------------------------------------------------
    def _operation(self, op: OpKind, key: str, value: str) -> str:
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"keys and values are strings, got {key!r} and {value!r}")
        if self._closed:
            raise RuntimeError("this Clerk is closed")
        if not self._busy.acquire(blocking=False):
            raise RuntimeError(
                "a Clerk issues one operation at a time (its sequence numbers assume it); "
                "give each thread its own Clerk"
            )
        try:
            command = Command(self.client_id, next(self._seq), op, key, value)
            self._count("operations")
            pending = None
            if self.history is not None:
                pending = self.history.invoke(
                    self.history_client, op, key, None if op == "get" else value
                )
            try:
                result = self._execute(command)
            except KVError as error:
                self._count("failed" if error.definite else "indefinite")
                if pending is not None:
                    if error.definite:
                        self.history.fail(pending)  # type: ignore[union-attr]
                    else:
                        self.history.info(pending)  # type: ignore[union-attr]
                raise
            except BaseException:
                # A misuse error or an interrupt mid-operation: its outcome is unknown.
                self._count("indefinite")
                if pending is not None:
                    self.history.info(pending)  # type: ignore[union-attr]
                raise
            self._count("ok")
            if pending is not None:
                self.history.ok(pending, result if op == "get" else None)  # type: ignore[union-attr]
            return result
        finally:
            self._busy.release()

    def _execute(self, command: Command) -> str:
        self.route.start(self, command)
        deadline = time.monotonic() + self.deadline_s
        backoff = self.backoff_s[0]
        maybe_applied = False
        last_reason = "no attempt made"
        first = True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            if not first:
                self._count("retries")
            first = False
            server = self._target
            self._count("attempts")
            try:
                return self.route.attempt(
                    self, server, command, min(self.attempt_timeout_s, remaining)
                )
            except Refused as refusal:
                last_reason = f"{server}: {refusal}"
                self._move_on(server, refusal.leader)
            except MaybeApplied as maybe:
                maybe_applied = True
                last_reason = f"{server}: {maybe}"
                self._move_on(server, maybe.leader)
            # Bounded exponential backoff with jitter: do not hammer a cluster mid-election.
            pause = min(backoff * (0.5 + self._rng.random()), deadline - time.monotonic())
            if pause > 0:
                time.sleep(pause)
            backoff = min(backoff * 2, self.backoff_s[1])
        what = f"{command.op}({command.key!r}) seq {command.seq}"
        if maybe_applied:
            raise KVTimeout(
                f"{what}: gave up after {self.deadline_s} s; an attempt may have been applied "
                f"(last: {last_reason})"
            )
        raise KVUnavailable(
            f"{what}: gave up after {self.deadline_s} s; no attempt was applied "
            f"(last: {last_reason})"
        )

    def _move_on(self, server: str, leader: str | None) -> None:
        """Choose the next server after a failed attempt at ``server``."""
        if self.route.follows_leader_hints and leader in self._names and leader != server:
            self._count("redirects")
            self._target = leader
            return
        index = self._names.index(server) if server in self._names else -1
        self._target = self._names[(index + 1) % len(self._names)]
        if self._target != server:
            self._count("failovers")

    def _gather(
        self,
        order: list[str],
        method: str,
        args: list,
        need: int,
        deadline: float,
        send_all: bool = False,
    ) -> tuple[list[Any], bool]:
        """Call ``method`` on replicas (the first ``need`` in ``order``, or all) and wait for
        ``need`` answers; a failed call is replaced by the next replica. Returns the answers
        and whether some failed call may have run."""
        queue = list(order)
        pending: dict[Future, str] = {}
        answers: list[Any] = []
        maybe = False

        def launch(count: int) -> None:
            for _ in range(count):
                if not queue:
                    return
                name = queue.pop(0)
                remaining = max(0.01, deadline - time.monotonic())
                pending[self._client(name).call_async(method, *args, timeout=remaining)] = name

        launch(len(queue) if send_all else need)
        while pending and len(answers) < need:
            done, _ = wait(
                pending, timeout=max(0.0, deadline - time.monotonic()), return_when=FIRST_COMPLETED
            )
            if not done:
                break
            for future in done:
                del pending[future]
                try:
                    answers.append(future.result())
                except RpcError as error:
                    maybe = maybe or not error.definite
                    launch(1)
        return answers, maybe or bool(pending)

    def _addresses(self) -> dict[str, Address]:
        servers = self._servers() if callable(self._servers) else self._servers
        return {str(name): (str(a[0]), int(a[1])) for name, a in servers.items()}

    def _client(self, server: str) -> Client:
        address = self._addresses()[server]
        cached = self._clients.get(server)
        if cached is not None and cached[0] == address:
            return cached[1]
        if cached is not None:
            cached[1].close()  # the node restarted on another port
        client = Client(address, name=self.client_id, secret=self.secret, connect_timeout=1.0)
        self._clients[server] = (address, client)
        return client

    def _count(self, key: str) -> None:
        with self._stats_lock:
            self._counts[key] += 1
