"""A GFS chunkserver (块服务器) as a pure core: versions, the primary's serial order, leases.

What it is: `ChunkserverCore`, the rules one chunkserver follows (paper §3, §4.5), with the
chunk *bytes* left to its driver: the core decides what to write where and says so in its
`ChunkserverReady` (``writes``, ``versions``, ``deletes``, persisted -- fsync'ed -- before
any message leaves); the driver keeps the bytes (chunk files with a checksum per block in a
real node, a dictionary in the simulator) and serves reads after asking `readable`.

- **Data flow is separate from control flow** (§3.2). A client first pushes its data to
  every replica (`store_pushed`, kept in memory only, under a ``data_id``); the mutation
  itself names the ``data_id``.
- **The primary orders mutations** (§3.1). A chunkserver holding the lease (`holds_lease`)
  gives each mutation the next serial number, applies it, and sends `ApplyMutation` to the
  secondaries, which apply mutations in serial order. The client hears success only when
  every replica applied it; otherwise it retries -- which is where duplicates come from.
- **Record append** (记录追加, §3.3): the primary picks the offset (the chunk's end). A
  record that does not fit pads the chunk to its end on every replica and the client is
  told to go on to the next chunk; a record larger than a quarter chunk is refused.
- **Versions** (版本号): a `Grant` carries the chunk's new version; the replica makes it
  durable, then confirms. A mutation or read for another version is refused: a replica
  that missed a grant while it was down is stale and says so.

What it must never do: read a clock or files, or use the global random module.
Where it fits: every node but the master (``n0``) runs one (`distlab.gfs.node`); the
simulator runs it too (`distlab.gfs.simulated`). Its twin is `master.py`.
"""

from __future__ import annotations

import random
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from distlab.core import Envelope, NodeId, Ready
from distlab.gfs.messages import (
    ApplyMutation,
    ChunkInstalled,
    ChunkReport,
    CopyChunk,
    DeleteChunk,
    GFSConfig,
    Grant,
    GrantAck,
    Heartbeat,
    MutationAck,
    MutationResult,
    Refused,
    ReportCorrupt,
)

__all__ = [
    "ChunkMeta",
    "ChunkWrite",
    "ChunkserverCore",
    "ChunkserverReady",
    "ChunkserverStatistics",
    "FetchChunk",
]

MAX_PUSHED = 256  # pushed data waiting for its mutation (an LRU buffer, as in §3.2)


@dataclass
class ChunkMeta:
    """What the core knows of one chunk it holds: its version and its length in bytes."""

    version: int
    length: int


@dataclass(frozen=True)
class ChunkWrite:
    """Write ``data`` at ``offset`` of chunk ``handle`` (durably, before anything is sent)."""

    handle: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class FetchChunk:
    """An output for the driver: copy chunk ``handle`` at ``version`` from ``source``, then
    call `ChunkserverCore.install` with its bytes (re-replication, §4.3)."""

    handle: int
    version: int
    source: NodeId


@dataclass(frozen=True)
class ChunkserverReady(Ready):
    """Persist, in this order: ``deletes`` (drop these chunks), ``writes``, ``versions``
    (handle, new version) -- then send, then outputs (`MutationResult`, `FetchChunk`)."""

    deletes: tuple[int, ...] = ()
    writes: tuple[ChunkWrite, ...] = ()
    versions: tuple[tuple[int, int], ...] = ()

    @property
    def must_persist(self) -> bool:
        return bool(self.deletes or self.writes or self.versions)


@dataclass
class _PrimaryLease:
    version: int
    remaining_ticks: int
    secondaries: tuple[NodeId, ...]
    next_serial: int = 1


@dataclass
class _Pending:
    request_id: str
    waiting: set[NodeId]
    deadline: int
    offset: int
    chunk_full: bool


@dataclass
class _Order:
    """A secondary's place in the primary's serial order for one lease (one version)."""

    version: int
    next_serial: int = 1
    buffered: dict[int, tuple[NodeId, ApplyMutation]] = field(default_factory=dict)  # by serial
    gap_since: int | None = None
    skipped: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class ChunkserverStatistics:
    """What this chunkserver did since it booted."""

    chunks: int
    leases_held: int
    mutations_applied: int
    pads: int
    mutations_failed: int
    stale_refusals: int
    grants: int


class ChunkserverCore:
    """One chunkserver's rules; see the module docstring. Pure: no I/O, no clock."""

    def __init__(
        self,
        node_id: NodeId,
        master: NodeId,
        config: GFSConfig,
        rng: random.Random,
        chunks: dict[int, ChunkMeta] | None = None,
    ) -> None:
        self.node_id = node_id
        self.master = master
        self.config = config
        self.rng = rng
        self.chunks: dict[int, ChunkMeta] = dict(chunks or {})
        self.now = 0
        self.pushed: OrderedDict[str, bytes] = OrderedDict()
        self.leases: dict[int, _PrimaryLease] = {}
        self.pending: dict[tuple[int, int, int], _Pending] = {}
        self.orders: dict[int, _Order] = {}
        self._outbox: list[Envelope] = []
        self._outputs: list[Any] = []
        self._deletes: list[int] = []
        self._writes: list[ChunkWrite] = []
        self._versions: list[tuple[int, int]] = []
        self._counts = dict.fromkeys(
            ("mutations_applied", "pads", "mutations_failed", "stale_refusals", "grants"), 0
        )
        # Tell the master at once what survived on disk (§4.1), then every heartbeat.
        self._heartbeat()

    # -- clients: data flow -----------------------------------------------------------------

    def store_pushed(self, data_id: str, data: bytes) -> None:
        """Keep pushed data until a mutation names it (memory only: a crash loses it)."""
        self.pushed[data_id] = bytes(data)
        self.pushed.move_to_end(data_id)
        while len(self.pushed) > MAX_PUSHED:
            self.pushed.popitem(last=False)

    # -- clients: control flow (at the primary) ----------------------------------------------

    def append(self, request_id: str, handle: int, version: int, data_id: str) -> None:
        """Record append at the primary; the answer is a `MutationResult` output."""
        data = self.pushed.get(data_id)
        if data is None:
            return self._fail(request_id, f"data {data_id} was not pushed to {self.node_id}")
        if len(data) > self.config.max_record_size:
            return self._fail(
                request_id,
                f"a record append is at most {self.config.max_record_size} bytes "
                f"(a quarter chunk), got {len(data)}",
            )
        chunk = self.chunks.get(handle)
        if chunk is None:
            return self._fail(request_id, f"{self.node_id} has no chunk {handle}")
        if chunk.length + len(data) > self.config.chunk_size:  # §3.3: pad, go to the next
            return self._mutate(request_id, handle, version, "pad", chunk.length, "")
        return self._mutate(request_id, handle, version, "write", chunk.length, data_id)

    def write(self, request_id: str, handle: int, version: int, offset: int, data_id: str) -> None:
        """A write at a client-chosen offset, at the primary; answered as `MutationResult`."""
        data = self.pushed.get(data_id)
        chunk = self.chunks.get(handle)
        if data is None:
            return self._fail(request_id, f"data {data_id} was not pushed to {self.node_id}")
        if chunk is None:
            return self._fail(request_id, f"{self.node_id} has no chunk {handle}")
        if not 0 <= offset <= chunk.length or offset + len(data) > self.config.chunk_size:
            return self._fail(
                request_id,
                f"a write must start within the chunk's data (0..{chunk.length}) and end "
                f"within the chunk ({self.config.chunk_size} bytes); got {offset}+{len(data)}",
            )
        return self._mutate(request_id, handle, version, "write", offset, data_id)

    def holds_lease(self, handle: int) -> bool:
        """Does this chunkserver believe it is the chunk's primary right now?"""
        lease = self.leases.get(handle)
        return lease is not None and lease.remaining_ticks > 0

    def _mutate(
        self, request_id: str, handle: int, version: int, kind: str, offset: int, data_id: str
    ) -> None:
        chunk = self.chunks[handle]
        lease = self.leases.get(handle)
        if not self.holds_lease(handle) or lease is None or lease.version != version:
            return self._fail(
                request_id, f"{self.node_id} holds no lease on chunk {handle} v{version}"
            )
        if chunk.version != version:
            return self._fail(request_id, f"chunk {handle} is at v{chunk.version}, not v{version}")
        serial = lease.next_serial
        lease.next_serial += 1
        mutation = ApplyMutation(handle, version, serial, kind, offset, data_id)
        order = self._order(handle, version)
        order.next_serial = serial + 1  # the primary applies its own order as it makes it
        self._apply(mutation)
        chunk_full = kind == "pad"
        if not lease.secondaries:
            self._answer(request_id, True, offset, chunk_full, "")
            return
        key = (handle, version, serial)
        self.pending[key] = _Pending(
            request_id,
            set(lease.secondaries),
            self.now + self.config.mutation_timeout_ticks,
            offset,
            chunk_full,
        )
        for secondary in lease.secondaries:
            self._send(secondary, mutation)

    def _answer(
        self, request_id: str, ok: bool, offset: int, chunk_full: bool, reason: str
    ) -> None:
        if chunk_full:  # padded everywhere: not the record's place; the client moves on
            self._outputs.append(MutationResult(request_id, False, offset, ok, reason))
        else:
            self._outputs.append(MutationResult(request_id, ok, offset, False, reason))
        if not ok:
            self._counts["mutations_failed"] += 1

    def _fail(self, request_id: str, reason: str) -> None:
        self._answer(request_id, False, 0, False, reason)

    # -- clients: reads (the driver reads the bytes) -----------------------------------------

    def readable(self, handle: int, version: int, offset: int) -> int | Refused:
        """The chunk's length if a client at ``version`` may read it from ``offset``; Refused
        otherwise (above all: a replica at another version never serves it)."""
        chunk = self.chunks.get(handle)
        if chunk is None:
            return Refused(f"{self.node_id} has no chunk {handle}")
        if chunk.version != version:
            self._counts["stale_refusals"] += 1
            return Refused(
                f"{self.node_id} has chunk {handle} at version {chunk.version}, not {version}: "
                "a stale replica does not serve it"
            )
        if not 0 <= offset <= chunk.length:
            return Refused(f"offset {offset} is past the end of chunk {handle} ({chunk.length})")
        return chunk.length

    def install(self, handle: int, version: int, data: bytes) -> None:
        """The driver fetched a copy for re-replication: make it this replica (durably)."""
        chunk = self.chunks.get(handle)
        if chunk is not None and chunk.version >= version:
            return
        self._deletes.append(handle)
        self._writes.append(ChunkWrite(handle, 0, bytes(data)))
        self._versions.append((handle, version))
        self.chunks[handle] = ChunkMeta(version, len(data))
        self._send(self.master, ChunkInstalled(handle, version))

    def corrupt(self, handle: int) -> None:
        """A checksum failed on this copy: drop it and tell the master, which re-replicates."""
        if self.chunks.pop(handle, None) is not None:
            self._drop(handle)
            self._send(self.master, ReportCorrupt(handle))

    # -- peers' messages --------------------------------------------------------------------

    def receive(self, sender: NodeId, message: Any) -> None:
        match message:
            case Grant():
                if sender == self.master:
                    self._grant(message)
            case DeleteChunk(handle=handle, below_version=below):
                chunk = self.chunks.get(handle)
                if sender == self.master and chunk is not None and chunk.version < below:
                    del self.chunks[handle]
                    self._drop(handle)
            case CopyChunk(handle=handle, version=version, source=source):
                chunk = self.chunks.get(handle)
                if sender == self.master and (chunk is None or chunk.version < version):
                    self._outputs.append(FetchChunk(handle, version, source))
            case ApplyMutation():
                self._secondary_apply(sender, message)
            case MutationAck():
                self._mutation_ack(sender, message)
            case _:
                pass

    def _grant(self, grant: Grant) -> None:
        chunk = self.chunks.get(grant.handle)
        if chunk is None:
            if not grant.create:
                return  # not ours (any more): the master learns from the next heartbeat
            chunk = self.chunks[grant.handle] = ChunkMeta(0, 0)
            self._writes.append(ChunkWrite(grant.handle, 0, b""))
        if chunk.version == grant.version:
            # A duplicate grant (or the master reused the version after nobody confirmed
            # it): confirm again; it arrived within the message delay bound, so holding
            # the lease from now still ends before the master's count does.
            if grant.primary != self.node_id:
                self.leases.pop(grant.handle, None)
            elif not self.holds_lease(grant.handle):
                self.leases[grant.handle] = _PrimaryLease(
                    grant.version, grant.lease_ticks, grant.secondaries
                )
            self._send(self.master, GrantAck(grant.handle, grant.version))
            return
        if chunk.version > grant.version:
            return  # a late grant: a newer one came first
        if chunk.version != grant.previous_version:
            return  # it missed a version: stale, whatever this grant says
        self._counts["grants"] += 1
        chunk.version = grant.version
        self._versions.append((grant.handle, grant.version))
        self.orders.pop(grant.handle, None)
        if grant.primary == self.node_id:
            self.leases[grant.handle] = _PrimaryLease(
                grant.version, grant.lease_ticks, grant.secondaries
            )
        else:
            self.leases.pop(grant.handle, None)
        self._send(self.master, GrantAck(grant.handle, grant.version))

    def _order(self, handle: int, version: int) -> _Order:
        order = self.orders.get(handle)
        if order is None or order.version != version:
            order = self.orders[handle] = _Order(version)
        return order

    def _secondary_apply(self, sender: NodeId, mutation: ApplyMutation) -> None:
        chunk = self.chunks.get(mutation.handle)
        if chunk is None or chunk.version != mutation.version:
            have = "none" if chunk is None else f"v{chunk.version}"
            self._ack(
                sender, mutation, False, f"{self.node_id} has {have}, not v{mutation.version}"
            )
            return
        order = self._order(mutation.handle, mutation.version)
        serial = mutation.serial
        if serial < order.next_serial:  # a duplicate, or one given up on (§3.1 order kept)
            ok = serial not in order.skipped
            self._ack(sender, mutation, ok, "" if ok else f"serial {serial} was skipped")
            return
        order.buffered[serial] = (sender, mutation)
        self._apply_in_order(order)

    def _apply_in_order(self, order: _Order) -> None:
        while order.next_serial in order.buffered:
            primary, mutation = order.buffered.pop(order.next_serial)
            order.next_serial += 1
            ok, reason = self._apply(mutation)
            if not ok:
                order.skipped.add(mutation.serial)
            self._ack(primary, mutation, ok, reason)
        order.gap_since = self.now if order.buffered else None

    def _apply(self, mutation: ApplyMutation) -> tuple[bool, str]:
        chunk = self.chunks[mutation.handle]
        if mutation.kind == "pad":
            padding = bytes(max(0, self.config.chunk_size - mutation.offset))
            self._writes.append(ChunkWrite(mutation.handle, mutation.offset, padding))
            chunk.length = self.config.chunk_size
            self._counts["pads"] += 1
            return True, ""
        data = self.pushed.get(mutation.data_id)
        if data is None:
            return False, f"data {mutation.data_id} was not pushed to {self.node_id}"
        self._writes.append(ChunkWrite(mutation.handle, mutation.offset, data))
        chunk.length = max(chunk.length, mutation.offset + len(data))
        self._counts["mutations_applied"] += 1
        return True, ""

    def _ack(self, primary: NodeId, mutation: ApplyMutation, ok: bool, reason: str) -> None:
        message = MutationAck(mutation.handle, mutation.version, mutation.serial, ok, reason)
        self._send(primary, message)

    def _mutation_ack(self, sender: NodeId, ack: MutationAck) -> None:
        key = (ack.handle, ack.version, ack.serial)
        pending = self.pending.get(key)
        if pending is None or sender not in pending.waiting:
            return
        if not ack.ok:
            del self.pending[key]
            self._answer(pending.request_id, False, pending.offset, False, ack.reason)
            return
        pending.waiting.discard(sender)
        if not pending.waiting:
            del self.pending[key]
            self._answer(pending.request_id, True, pending.offset, pending.chunk_full, "")

    # -- time -------------------------------------------------------------------------------

    def tick(self) -> None:
        self.now += 1
        for handle in list(self.leases):
            lease = self.leases[handle]
            lease.remaining_ticks -= 1
            if lease.remaining_ticks <= 0:
                del self.leases[handle]
        for key in [k for k, p in self.pending.items() if self.now >= p.deadline]:
            pending = self.pending.pop(key)
            silent = ", ".join(sorted(pending.waiting))
            self._answer(
                pending.request_id, False, pending.offset, False, f"no answer from {silent}"
            )
        gap_timeout = self.config.gap_timeout_ticks
        for order in self.orders.values():
            waited = self.now - (order.gap_since if order.gap_since is not None else self.now)
            if order.buffered and waited >= gap_timeout:
                first = min(order.buffered)  # the missing ones failed at the primary
                order.skipped.update(range(order.next_serial, first))
                order.next_serial = first
                self._apply_in_order(order)
        if self.now % self.config.heartbeat_ticks == 0:
            self._heartbeat()

    def _heartbeat(self) -> None:
        reports = tuple(
            ChunkReport(handle, chunk.version, chunk.length)
            for handle, chunk in sorted(self.chunks.items())
        )
        self._send(self.master, Heartbeat(reports))

    # -- Ready ------------------------------------------------------------------------------

    def _drop(self, handle: int) -> None:
        self._deletes.append(handle)
        self.leases.pop(handle, None)
        self.orders.pop(handle, None)

    def _send(self, node: NodeId, message: Any) -> None:
        self._outbox.append(Envelope(self.node_id, node, message))

    def has_ready(self) -> bool:
        return bool(
            self._outbox or self._outputs or self._deletes or self._writes or self._versions
        )

    def take_ready(self) -> ChunkserverReady:
        ready = ChunkserverReady(
            messages=self._outbox,
            outputs=self._outputs,
            deletes=tuple(self._deletes),
            writes=tuple(self._writes),
            versions=tuple(self._versions),
        )
        self._outbox, self._outputs = [], []
        self._deletes, self._writes, self._versions = [], [], []
        return ready

    # -- observing --------------------------------------------------------------------------

    def statistics(self) -> ChunkserverStatistics:
        return ChunkserverStatistics(
            chunks=len(self.chunks),
            leases_held=sum(1 for handle in self.leases if self.holds_lease(handle)),
            **self._counts,
        )
