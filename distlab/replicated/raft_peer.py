"""RaftPeer: one Raft server in a real node process -- real time, real sockets, a real disk.

Usage (what a service built on Raft needs to know)::

    from distlab.cluster import Cluster
    from distlab.replicated import RaftPeer, RaftClient

    with Cluster.start(3, program=RaftPeer, service="mypkg.mymod:MyService",
                       election_timeout_ms=(150, 300), heartbeat_ms=50, tick_ms=10,
                       fsync=True, snapshot_every=None) as cluster:
        client = RaftClient(cluster)              # finds the leader, retries, follows hints
        client.submit(["put", "x", "1"])          # -> Applied(result=..., index=..., term=...)
        # or by hand, on one node:
        cluster.client("n0").call("Replicated.submit", ["put", "x", "1"], 2.0, timeout=3.0)
        cluster.status()["n0"].fields             # role, term, leader, log_length, ...

* ``service`` is a ``"module:Class"`` implementing
  :class:`~distlab.replicated.service.ReplicatedService` (``apply``, ``snapshot``,
  ``restore``; optional ``query``). Default: :class:`~distlab.replicated.service.CommandList`.
  Commands and results must be msgpack plain data; the class must be importable by name in
  the node process (a module of the ``distlab`` package, or one on ``sys.path``).
* ``Replicated.submit(command, timeout=2.0)`` answers once the command is *applied on this
  node*, with a typed reply (:mod:`distlab.replicated.replies`, in its codec's wire form:
  ``decode_reply`` turns it back): ``Applied(result, index, term)``,
  ``NotLeader(leader_hint)`` (definite: not run), ``LostLeadership(leader_hint, index,
  term)`` (definite: another entry was committed at the proposed index, so this one never
  will be), ``TimedOut(leader_hint)`` (indefinite: it may still commit later, and the
  checker must treat it as maybe), ``ApplyFailed(message, index, term)`` (the service's
  apply raised; deterministic, so every replica saw the same error).
  ``Replicated.submit_many(commands, timeout=2.0)`` proposes a list at once (one batch)
  and answers a list of such replies. ``Replicated.read(request=None, timeout=2.0)`` is a
  *linearizable* read without a log entry (ReadIndex, the Raft thesis §6.4): on the leader it
  answers ``Applied(result, index, term)`` with the service's ``query(request)`` once a
  majority confirmed its leadership and it applied the read's index (``result`` is the
  query's answer, ``index`` the read index); elsewhere ``NotLeader`` -- unless
  ``follower_ok=True`` (follower reads, the last paragraph of §6.4): then a follower that
  knows its leader asks it for the read index (the leader confirms its leadership with its
  usual round, writing nothing) and answers the same way from its *own* service once it has
  applied that far, which spreads read work over every node. With
  ``lease_reads=True`` (off by default) a leader holding a lease answers without the round
  (`distlab.raft.RaftConfig.lease_reads`: it trusts every node's clock to run at one rate,
  which a paused or starved process breaks).
  ``Replicated.query(request=None)`` reads this node's local service state (not
  linearizable). Retrying a ``timeout`` may apply a command twice:
  a service that must not do that deduplicates (client id + sequence number in commands).
* A new leader first appends a blank entry (``NOOP``, §8) so that entries of earlier terms
  commit at once; the service never sees it, but it takes a log index (the first command of
  a fresh cluster lands at index 2) and counts in ``log_length``. The core appends it
  (`RaftNode.become_leader`), so the simulator's clusters do exactly the same; this driver
  only keeps it from the service.
* ``status()`` fields (``Cluster.status()[name].fields``): role ("leader" / "follower" /
  "candidate"), term, leader, voted_for, log_length (the last log index), commit_index,
  last_applied, snapshot_index; plus elections_started, snapshots_installed (InstallSnapshots
  taken from a leader since this process started), fsync.
* Subclassing is fine: override ``services()`` (call ``super().services()`` and add to the
  dict) or ``status()``; ``self.service`` is the service instance, and options RaftPeer
  does not know are ignored, so a subclass may take its own. In-process helpers:
  ``propose_nowait(command)`` -> a waiter or a not_leader dict, ``wait_for_result(waiter,
  timeout)``; ``read_nowait(query)`` and ``wait_for_read(waiter, timeout)`` for ReadIndex.
  ``distlab.replicated.observe`` has ``wait_for_one_leader``, ``applied``, ...
* ``raft_members=["n0", "n1", "n2"]`` (default: every node) makes only those nodes the Raft
  group, so other nodes of the same cluster can run something else (the chain's replicated
  configuration manager, `distlab.chain.replicated_manager`, does this).
* Persistent state lives in ``<data_dir>/raft/`` (``raft.log`` and ``snapshot``).

What it is: a :class:`~distlab.cluster.NodeProgram` that hosts a pure
:class:`~distlab.raft.RaftNode` and drives it. Work reaches the core from three sides --
messages from peers (``Raft.step``), proposals from clients (``Replicated.submit``), and one
``tick()`` per ``tick_ms`` of real time from the *Raft loop* thread -- and whichever thread
brought the work then *drives* the core: it takes each `Ready` and handles it in the
contract's order, **persist** (one fsync for the whole batch: group commit), **send** (queue
on each peer's `PeerSender`; once the driver role is given up, the same thread writes them
to the sockets while the peers keep up, else their sender threads do; never waiting for
the network), **apply** (to the service, then wake the clients waiting for those indices).
Only one thread drives at a time; work that arrives meanwhile (during an fsync, say) goes
out with the next batch. A peer's RPC thread that drives returns the replies for that peer
in the RPC's answer, so an AppendEntries and its reply make one round trip.

What it must never do: hold the core lock while doing I/O or while a client waits; send a
message before the state it depends on is durable; apply an entry twice or out of order;
print.

Where it fits: ``Cluster.start(n, program=RaftPeer, **options)`` runs one per node; the
simulator (:mod:`distlab.sim`) drives the very same core with virtual time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.core import derive_seed
from distlab.raft import (
    NOOP,
    CommandApplied,
    LogEntry,
    Message,
    NotLeader,
    RaftConfig,
    RaftNode,
    ReadReady,
    ReadRefused,
    Ready,
    Role,
    SnapshotApplied,
    codec,
    is_noop,
)
from distlab.replicated.persistence import RaftStorage, StorageStatistics
from distlab.replicated.replies import (
    REPLY_CODEC,
    Applied,
    ApplyFailed,
    LostLeadership,
    Reply,
    TimedOut,
)
from distlab.replicated.service import load_service
from distlab.replicated.transport import SenderStatistics, decode_batch, raft_sender

__all__ = ["NOOP", "PeerStatistics", "RaftPeer", "raft_peers"]

# ``NOOP`` (re-exported): the blank entry a new leader appends at the start of its term.
# It is `distlab.raft.NOOP`; the core appends it, and `_apply` keeps it from the service.

DEFAULTS: dict[str, Any] = {
    "service": None,
    "election_timeout_ms": (150, 300),
    "heartbeat_ms": 50,
    "tick_ms": 10,
    "fsync": True,
    "snapshot_every": None,
    "lease_reads": False,
    "max_entries_per_append": 256,
    "peer_rpc_timeout_s": 1.0,
    "raft_members": None,
}


@dataclass(frozen=True)
class PeerStatistics:
    """What one RaftPeer's driver has done (the core's own counters are in ``status()``)."""

    readies: int
    ticks: int
    proposals: int
    applied: int
    bad_batches: int
    storage: StorageStatistics
    senders: tuple[SenderStatistics, ...]


class _Pending:
    """A client waiting for the entry it proposed at (index, term) to be applied.

    Its latch is a bare lock, held until the answer is in: a ``threading.Event`` does
    the same with a condition variable written in Python, which costs a few
    microseconds more on the path of every write.
    """

    __slots__ = ("_latch", "index", "result", "term")

    def __init__(self, index: int, term: int) -> None:
        self.index, self.term = index, term
        self._latch = threading.Lock()
        self._latch.acquire()
        self.result: Reply | None = None

    def resolve(self, result: Reply) -> None:
        """Give the answer (a later answer replaces an earlier one) and wake the waiter."""
        self.result = result
        with contextlib.suppress(RuntimeError):  # resolved before: the latch is open
            self._latch.release()

    @property
    def resolved(self) -> bool:
        return self.result is not None

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the answer; True if it is in."""
        if self._latch.acquire(timeout=max(timeout, 0.0)):
            self._latch.release()  # leave it open: the answer stays readable
            return True
        return self.resolved


def raft_peers(ctx: NodeContext, raft_members: Any = None) -> list[str]:
    """This node's Raft peers: every other node of the cluster, or, given ``raft_members``
    (node names, this one among them), only those -- a Raft group inside a larger cluster,
    e.g. a chain's configuration managers beside the chain nodes they manage."""
    if raft_members is None:
        return sorted(ctx.peers)
    if isinstance(raft_members, str) or not all(isinstance(m, str) for m in raft_members):
        raise ValueError(f"raft_members must be a list of node names, got {raft_members!r}")
    members = set(raft_members)
    if ctx.name not in members:
        raise ValueError(f"raft_members {sorted(members)} must include this node, {ctx.name}")
    unknown = members - {ctx.name, *ctx.peers}
    if unknown:
        raise ValueError(f"raft_members names nodes the cluster does not have: {sorted(unknown)}")
    return sorted(members - {ctx.name})


def _ticks(ms: float, tick_ms: float) -> int:
    return max(1, round(ms / tick_ms))


class RaftPeer(NodeProgram):
    """Hosts one RaftNode in a node process; see the module docstring for options and RPCs."""

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        unknown = sorted(set(ctx.options) - set(DEFAULTS))
        if unknown:  # a subclass (a service's own program) may use them; Raft does not
            ctx.log.info("RaftPeer ignores options %s (it knows %s)", unknown, sorted(DEFAULTS))
        options = {**DEFAULTS, **ctx.options}
        self.options = options
        self.log: logging.Logger = ctx.log
        tick_ms = float(options["tick_ms"])
        low_ms, high_ms = options["election_timeout_ms"]
        config = RaftConfig(
            election_timeout_ticks=(_ticks(low_ms, tick_ms), _ticks(high_ms, tick_ms)),
            heartbeat_interval_ticks=_ticks(options["heartbeat_ms"], tick_ms),
            max_entries_per_append=int(options["max_entries_per_append"]),
            lease_reads=bool(options["lease_reads"]),
        )
        self.tick_s = tick_ms / 1000.0
        self._max_catch_up = config.heartbeat_interval_ticks
        self.snapshot_every: int | None = options["snapshot_every"]
        self.fsync = bool(options["fsync"])

        self.service = load_service(options["service"])
        self.storage = RaftStorage(ctx.data_dir / "raft", fsync=self.fsync)
        persisted = self.storage.load()
        # Seeded (replayable), but not the same timeouts in every incarnation of the node.
        rng = random.Random(derive_seed(ctx.seed, "raft", persisted.hard_state.current_term))
        self.node = RaftNode(
            ctx.name,
            raft_peers(ctx, options["raft_members"]),
            rng=rng,
            config=config,
            persisted=persisted,
        )
        self.log.info(
            "raft: recovered term %d, vote %s, %d entries, snapshot at %d",
            persisted.hard_state.current_term,
            persisted.hard_state.voted_for,
            len(persisted.entries),
            persisted.snapshot.last_included_index if persisted.snapshot else 0,
        )

        self._lock = threading.Lock()  # guards the core, the inbox and the waiters
        self._work = threading.Condition(self._lock)
        self._driver = threading.Lock()  # the role of handling Ready batches (see _drive)
        self._kicked = False  # the loop thread should drive now
        self._role_seen: tuple[Role, int] | None = None  # for logging role changes
        self._waiters: dict[int, _Pending] = {}
        self._reads: dict[int, tuple[_Pending, Any]] = {}  # request -> (waiter, its query)
        self._read_requests = 0
        self._closed = False
        self._apply_lock = threading.Lock()  # the service: applied by the loop, queried by RPCs
        self._applied_index = 0
        self._readies = self._ticks = self._proposals = self._applied = self._bad = 0
        self._senders = {
            peer: raft_sender(
                ctx,
                peer,
                rpc_timeout=float(options["peer_rpc_timeout_s"]),
                on_reply=self._on_reply,
            )
            for peer in self.node.peers
        }
        self._loop = threading.Thread(target=self._run, name=f"raft-loop-{ctx.name}", daemon=True)
        self._loop.start()

    # ==========================================================================================
    # NodeProgram
    # ==========================================================================================

    def services(self) -> dict[str, object]:
        return {"Raft": _RaftRPC(self), "Replicated": _ReplicatedRPC(self)}

    def status(self) -> dict[str, Any]:
        with self._lock:
            s = self.node.statistics()
        return {
            "role": s.role,
            "term": s.current_term,
            "leader": s.leader_id,
            "voted_for": s.voted_for,
            "log_length": s.last_log_index,
            "commit_index": s.commit_index,
            "last_applied": self._applied_index,
            "snapshot_index": s.snapshot_index,
            "elections_started": s.elections_started,
            "snapshots_installed": s.snapshots_installed,
            "fsync": self.fsync,
        }

    def statistics(self) -> PeerStatistics:
        """Driver counters: Ready batches, ticks, proposals, applied entries, senders."""
        return PeerStatistics(
            readies=self._readies,
            ticks=self._ticks,
            proposals=self._proposals,
            applied=self._applied,
            bad_batches=self._bad,
            storage=self.storage.statistics(),
            senders=tuple(sender.statistics() for sender in self._senders.values()),
        )

    def close(self) -> None:
        with self._work:
            self._closed = True
            self._work.notify()
        self._loop.join(timeout=10.0)
        # Wait for a driver that is mid-batch (it stops at its next look at _closed), so
        # the storage is never closed under a write.
        with self._driver:
            for sender in self._senders.values():
                sender.close()
            with self._lock:
                waiters, self._waiters = list(self._waiters.values()), {}
                waiters.extend(pending for pending, _ in self._reads.values())
                self._reads = {}
            for pending in waiters:
                pending.resolve(self._timeout_answer())
            self.storage.close()

    # ==========================================================================================
    # Inputs: messages from peers, proposals from clients
    # ==========================================================================================

    def deliver(self, sender: str, messages: list[Message], *, drive: bool = True) -> list[Message]:
        """Feed messages that arrived from ``sender`` to the core, then drive it.

        Returns the messages for ``sender`` that this thread produced while driving, so an
        RPC handler can return them as its reply (one network round trip instead of two);
        an empty list when another thread is driving (they go through the sender queue).
        """
        with self._lock:
            for message in messages:
                self.node.receive(sender, message)
        return self._drive(reply_to=sender) if drive else []

    def propose_nowait(self, command: Any, *, drive: bool = True) -> _Pending | NotLeader:
        """Propose ``command``; a waiter for its outcome, or the `NotLeader` answer.

        With ``drive`` the calling thread persists and sends the new entry itself (when no
        other thread is doing so); pass False to propose many and then call `drive()`.
        """
        with self._lock:
            outcome = self.node.propose(command)
            if isinstance(outcome, NotLeader):
                return outcome
            pending = _Pending(outcome.index, outcome.term)
            older = self._waiters.get(outcome.index)
            self._waiters[outcome.index] = pending
            self._proposals += 1
        if older is not None:  # an entry of an earlier term at this index was overwritten
            older.resolve(self._lost_answer(older))
        if drive:
            self._drive()
        return pending

    def read_nowait(self, query: Any, *, follower_ok: bool = False) -> _Pending | NotLeader:
        """Start a linearizable read of ``service.query(query)`` (ReadIndex); a waiter for
        its answer, or the `NotLeader` answer. With ``follower_ok`` a follower asks its
        leader for the read index and answers itself. Drives the core (the round, or the
        ask, goes out now)."""
        with self._lock:
            self._read_requests += 1
            request = self._read_requests
            refused = self.node.read_index(request, follower_ok=follower_ok)
            if refused is not None:
                return refused
            pending = _Pending(request, self.node.current_term)
            self._reads[request] = (pending, query)
        self._drive()
        return pending

    def wait_for_read(self, pending: _Pending, timeout: float) -> Reply:
        """Block until the read ``pending`` is answered (or ``timeout`` seconds pass)."""
        if not pending.wait(timeout):
            with self._lock:
                self._reads.pop(pending.index, None)
            if not pending.resolved:
                return self._timeout_answer()
        return pending.result  # type: ignore[return-value]

    def drive(self) -> None:
        """Handle whatever the core has ready (persist, send, apply) unless a thread already is."""
        self._drive()

    def wait_for_result(self, pending: _Pending, timeout: float) -> Reply:
        """Block until ``pending`` is applied (or ``timeout`` seconds pass)."""
        if pending.wait(timeout):
            return pending.result  # type: ignore[return-value]
        with self._lock:
            if self._waiters.get(pending.index) is pending:
                del self._waiters[pending.index]
        if pending.resolved:  # resolved while we gave up
            return pending.result  # type: ignore[return-value]
        return self._timeout_answer()

    # ==========================================================================================
    # Driving the core: whoever brings work does it, one thread at a time
    # ==========================================================================================

    def _drive(self, reply_to: str | None = None, max_rounds: int = 4) -> list[Message]:
        """Take and handle `Ready` batches until the core has none, if we can get the role.

        Exactly one thread at a time holds the *driver* role, so batches are persisted, sent
        and applied strictly in order. A thread that finds the role taken just leaves: the
        driver loops until ``has_ready()`` is False, so it also handles the new work -- and
        everything that piled up during its fsync goes out as one batch (group commit).
        An RPC thread drives at most ``max_rounds`` batches and then leaves the rest to the
        Raft loop thread, so its caller is not kept waiting.
        """
        replies: list[Message] = []
        rounds = 0
        while self._driver.acquire(blocking=False):
            to_flush: set[str] = set()
            try:
                while True:
                    with self._lock:
                        if self._closed or not self.node.has_ready():
                            break
                        if reply_to is not None and rounds >= max_rounds:
                            self._kicked = True
                            self._work.notify()
                            break
                        role_now = (self.node.role, self.node.current_term)
                        if role_now != self._role_seen:
                            self._role_seen = role_now
                            self.log.info(
                                "raft: %s in term %d (leader %s)",
                                role_now[0].value,
                                role_now[1],
                                self.node.leader_id,
                            )
                        ready = self.node.take_ready()
                        tail = None
                        if ready.snapshot is not None:
                            index = ready.snapshot.last_included_index
                            tail = self.node.log.entries_from(index + 1)
                    rounds += 1
                    replies.extend(self._handle_ready(ready, tail, reply_to, to_flush))
            except Exception:  # a bug or a dead disk: a node that cannot persist must stop
                self.log.exception("raft: driving the core failed; exiting the node")
                logging.shutdown()
                os._exit(70)
            finally:
                self._driver.release()
            # The network sends come after giving up the driver role: while this thread
            # writes to one follower's socket, another thread may already take the role to
            # handle the first follower's answer (commit, apply, wake the client).
            for peer in to_flush:
                self._senders[peer].flush()
            # Work added after our last look, by a thread that found the role taken,
            # would otherwise wait for the next tick: look once more.
            with self._lock:
                if self._closed or self._kicked or not self.node.has_ready():
                    break
        return replies

    def _run(self) -> None:
        """The Raft loop thread: real time for the core (one tick per ``tick_ms``)."""
        next_tick = time.monotonic() + self.tick_s
        while True:
            with self._work:
                while not (self._closed or self._kicked):
                    remaining = next_tick - time.monotonic()
                    if remaining <= 0:
                        break
                    self._work.wait(remaining)
                if self._closed:
                    return
                self._kicked = False
                now = time.monotonic()
                if now >= next_tick:
                    # Catch up at most one heartbeat's worth of missed ticks. If this thread
                    # was starved for longer (a busy CPU, a long batch of messages holding
                    # the lock, SIGSTOP), replaying all the lost time at once would fire the
                    # election timer although the leader's messages were arriving all along;
                    # beyond that, a starved node's clock simply runs slow.
                    due = min(int((now - next_tick) / self.tick_s) + 1, self._max_catch_up)
                    for _ in range(due):
                        self.node.tick()
                    self._ticks += due
                    next_tick = max(next_tick + due * self.tick_s, now)
            self._drive()
            if not self.fsync:
                self.storage.flush_if_stale()

    def _handle_ready(
        self,
        ready: Ready,
        tail: list[LogEntry] | None,
        reply_to: str | None = None,
        to_flush: set[str] | None = None,
    ) -> list[Message]:
        self._readies += 1
        # 1. persist (group commit: one fsync for everything in this batch)
        self.storage.save(ready, tail)
        # 2. send: one queue per peer, so a slow or dead peer never holds up the others;
        #    messages for the peer whose RPC we are serving go back in its reply.
        replies: list[Message] = []
        if ready.messages:
            by_peer: dict[str, list[Message]] = defaultdict(list)
            for envelope in ready.messages:
                by_peer[envelope.dst].append(envelope.message)
            for peer, messages in by_peer.items():
                if peer == reply_to:
                    replies = messages
                elif to_flush is None:
                    self._senders[peer].put(messages)
                else:  # queued in order now; sent once the driver role is released
                    self._senders[peer].put(messages, send=False)
                    to_flush.add(peer)
        # 3. apply, in log order, then answer the clients waiting for those entries
        if ready.committed:
            self._apply(ready.committed)
        return replies

    def _apply(self, committed: list[Any]) -> None:
        answers: list[tuple[int, int, Reply]] = []
        taken_by_noop: list[int] = []
        reads: list[tuple[int, Reply]] = []
        snapshot_to = 0
        asked: dict[int, tuple[_Pending, Any]] = {}  # the reads answered in this batch
        if any(type(item) is ReadReady for item in committed):
            with self._lock:
                asked = {
                    item.request: self._reads[item.request]
                    for item in committed
                    if type(item) is ReadReady and item.request in self._reads
                }
        with self._apply_lock:
            for item in committed:
                if isinstance(item, ReadReady):
                    # Every entry up to the read's index is applied by now: answer here.
                    reads.append((item.request, self._answer_read(item, asked)))
                    continue
                if isinstance(item, ReadRefused):
                    reads.append((item.request, NotLeader(item.leader_hint)))
                    continue
                if isinstance(item, SnapshotApplied):
                    self.service.restore(item.data)
                    self.log.info("raft: service restored from snapshot at %d", item.index)
                    snapshot_to = item.index
                elif isinstance(item, CommandApplied) and is_noop(item.command):
                    # Raft's own entry; the service never sees it. A client still waiting
                    # at this index proposed there in an earlier term and lost the slot.
                    taken_by_noop.append(item.index)
                elif isinstance(item, CommandApplied):
                    answer: Reply
                    try:
                        result = self.service.apply(item.command)
                        answer = Applied(result, item.index, item.term)
                    except Exception as error:
                        message = f"{type(error).__name__}: {error}"
                        answer = ApplyFailed(message, item.index, item.term)
                    answers.append((item.index, item.term, answer))
                self._applied_index = item.index
                self._applied += 1
        woken: list[tuple[_Pending, Reply]] = []
        with self._lock:
            for request, answer in reads:
                read = self._reads.pop(request, None)
                if read is not None:
                    woken.append((read[0], answer))
            if snapshot_to:
                # Entries covered by an installed snapshot: their fate here is unknown.
                for index in [i for i in self._waiters if i <= snapshot_to]:
                    woken.append((self._waiters.pop(index), self._timeout_answer()))
            for index in taken_by_noop:
                pending = self._waiters.pop(index, None)
                if pending is not None:
                    woken.append((pending, self._lost_answer(pending)))
            for index, term, answer in answers:
                pending = self._waiters.pop(index, None)
                if pending is not None:
                    if pending.term == term:
                        woken.append((pending, answer))
                    else:
                        woken.append((pending, self._lost_answer(pending)))
        for pending, answer in woken:
            pending.resolve(answer)
        self._maybe_snapshot()

    def _answer_read(self, item: ReadReady, asked: dict[int, tuple[_Pending, Any]]) -> Reply:
        """The service's answer to a confirmed read, at its point of the apply channel
        (called with the apply lock held, so the service holds exactly this state)."""
        if item.request not in asked:  # its client gave up
            return self._timeout_answer()
        pending, request = asked[item.request]
        query = getattr(self.service, "query", None)
        try:
            if query is None:
                raise ValueError(f"service {type(self.service).__name__} has no query() method")
            return Applied(query(request), item.index, pending.term)
        except Exception as error:
            return ApplyFailed(f"{type(error).__name__}: {error}", item.index, pending.term)

    def _maybe_snapshot(self) -> None:
        every = self.snapshot_every
        if not every:
            return
        applied = self._applied_index
        if applied - self.node.log.snapshot_index < every:
            return
        with self._apply_lock:
            data = self.service.snapshot()
        with self._lock:
            self.node.snapshot(applied, data)  # persisted by the next round of _drive

    def _on_reply(self, peer: str, batch: Any) -> None:
        """A peer answered our Raft.step with messages of its own (see `deliver`)."""
        try:
            messages = decode_batch(batch)
        except ValueError as error:
            self._bad += 1
            self.log.warning("raft: bad reply batch from %s: %s", peer, error)
            return
        if messages:
            # Not deliver()'s reply path: this thread answers no RPC, so what the core has
            # for ``peer`` now must go through the sender queue like everything else.
            self.deliver(peer, messages, drive=False)
            self._drive()

    def _timeout_answer(self) -> TimedOut:
        return TimedOut(self.node.leader_id)

    def _lost_answer(self, pending: _Pending) -> LostLeadership:
        return LostLeadership(self.node.leader_id, pending.index, pending.term)


class _RaftRPC:
    """``Raft.step``: messages from peers (internal to the cluster)."""

    def __init__(self, peer: RaftPeer) -> None:
        self._peer = peer

    def step(self, sender: str, batch: list[Any]) -> list[dict[str, Any]]:
        """Deliver a batch of encoded Raft messages from peer ``sender``.

        Returns encoded messages for ``sender`` produced while handling it (its replies,
        when this thread got to drive the core), or an empty list.
        """
        peer = self._peer
        if sender not in peer.node.peers:
            peer._bad += 1
            raise ValueError(f"Raft.step from {sender!r}, which is not a peer of {peer.ctx.name}")
        try:
            messages = decode_batch(batch)
        except ValueError:
            peer._bad += 1
            raise
        return [codec.encode(message) for message in peer.deliver(sender, messages)]


class _ReplicatedRPC:
    """``Replicated.*``: what clients call."""

    def __init__(self, peer: RaftPeer) -> None:
        self._peer = peer

    def submit(self, command: Any, timeout: float = 2.0) -> dict[str, Any]:
        """Propose ``command``; answer once it is applied here (see the module docstring)."""
        outcome = self._peer.propose_nowait(command)
        if isinstance(outcome, NotLeader):
            return REPLY_CODEC.encode(outcome)
        return REPLY_CODEC.encode(self._peer.wait_for_result(outcome, float(timeout)))

    def submit_many(self, commands: list[Any], timeout: float = 2.0) -> list[dict[str, Any]]:
        """Propose every command at once (they travel in one batch); one answer each."""
        if type(commands) is not list:
            raise ValueError(
                f"submit_many expects a list of commands, got {type(commands).__name__}"
            )
        outcomes = [self._peer.propose_nowait(command, drive=False) for command in commands]
        self._peer.drive()
        deadline = time.monotonic() + float(timeout)
        return [
            REPLY_CODEC.encode(
                outcome
                if isinstance(outcome, NotLeader)
                else self._peer.wait_for_result(outcome, max(deadline - time.monotonic(), 0.0))
            )
            for outcome in outcomes
        ]

    def read(
        self, request: Any = None, timeout: float = 2.0, follower_ok: bool = False
    ) -> dict[str, Any]:
        """A linearizable read of ``service.query(request)`` without a log entry (ReadIndex);
        with ``follower_ok`` a follower answers it too (see the module docstring)."""
        if type(follower_ok) is not bool:
            raise ValueError(f"follower_ok must be true or false, got {follower_ok!r:.40}")
        outcome = self._peer.read_nowait(request, follower_ok=follower_ok)
        if isinstance(outcome, NotLeader):
            return REPLY_CODEC.encode(outcome)
        return REPLY_CODEC.encode(self._peer.wait_for_read(outcome, float(timeout)))

    def query(self, request: Any = None) -> Any:
        """Read this node's local service state (not linearizable: it may lag the leader)."""
        service = self._peer.service
        query = getattr(service, "query", None)
        if query is None:
            raise ValueError(f"service {type(service).__name__} has no query() method")
        with self._peer._apply_lock:
            return query(request)
