"""The GFS master (主节点) as a pure core: namespace, versions, leases, replica locations.

What it is: `MasterCore`, the rules of the paper's master (§2.6, §4) with no I/O:

- **Metadata only.** The namespace (path -> chunk handles) and each chunk's version number
  (版本号) are the master's durable state: every change is an operation-log record in the
  `MasterReady` (the driver appends it to a `distlab.storage.DurableLog` and fsyncs before
  anything is sent), with a checkpoint now and then so a restart replays a short log.
- **Replica locations are not persisted** (§2.6.2). Chunkservers report their chunks in
  every `Heartbeat`; a restarted master knows nothing until they do.
- **Leases and versions** (租约, §3.1, §4.5). A mutation needs a primary. Granting a lease
  bumps the chunk's version, made durable first, and the new version goes to every live
  up-to-date replica in a `Grant`; only when all of them confirmed (`GrantAck`) does the
  master hand the lease to clients, so every replica at the new version saw every
  mutation made under it. A replica that was down keeps the old version: it is *stale*,
  never handed to a client, and told to delete its copy.
- **One primary at a time.** The master counts a lease as held for
  ``config.master_lease_ticks`` from sending the grant (longer than the primary counts it)
  and never names another primary for that chunk before then -- not even after its own
  restart, when it waits that long before granting anything.
- **Re-replication** (§4.3): a chunk with fewer than ``config.replicas`` live up-to-date
  replicas (a chunkserver crashed for longer than ``dead_after_ticks``, a corrupted copy)
  is copied to another chunkserver, while no lease on it is active.

What it must never do: read a clock, use the global random module, or touch a file; the
driver persists `MasterReady.log_records` and `checkpoint`.
Where it fits: node ``n0`` of a GFS cluster runs it (`distlab.gfs.node`); the simulator
runs it in a `distlab.sim.World` (`distlab.gfs.simulated`). Its twin is `chunkserver.py`.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from distlab.core import Envelope, NodeId, Ready
from distlab.gfs.messages import (
    ChunkInstalled,
    ChunkLocations,
    CopyChunk,
    DeleteChunk,
    GFSConfig,
    Grant,
    GrantAck,
    Heartbeat,
    Refused,
    ReportCorrupt,
    Retry,
)

__all__ = ["MasterCore", "MasterReady", "MasterState", "MasterStatistics"]

# A chunk the master does not know (garbage): any version of it is below this.
_ANY_VERSION = 1 << 62


@dataclass
class MasterState:
    """What the master persists: the namespace and the chunk versions (never locations).

    Operation-log records are plain lists: ``["create", path]``, ``["chunk", path,
    handle]``, ``["version", handle, version, recipients, previous]`` (the replicas the grant of
    that version went to, and the version they were at: if one of them still reports the
    previous version, the grant never completed, so no mutation can have happened under
    it). A version number is never issued twice (``issued``), even after a roll-back.
    Replaying the whole log, in order, over the checkpoint taken at its end gives that
    checkpoint again, so a crash between writing a
    checkpoint and emptying the log is harmless.
    """

    files: dict[str, list[int]] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    next_handle: int = 1
    recipients: dict[int, list[str]] = field(default_factory=dict)
    previous: dict[int, int] = field(default_factory=dict)
    issued: dict[int, int] = field(default_factory=dict)

    def apply(self, record: list[Any]) -> None:
        """Apply one operation-log record (idempotently)."""
        match record:
            case ["create", str(path)]:
                self.files.setdefault(path, [])
            case ["chunk", str(path), int(handle)]:
                chunks = self.files.setdefault(path, [])
                if handle not in chunks:
                    chunks.append(handle)
                self.versions.setdefault(handle, 0)
                self.next_handle = max(self.next_handle, handle + 1)
            case ["version", int(handle), int(version), list(recipients), int(previous)]:
                self.versions[handle] = version
                self.recipients[handle] = [str(node) for node in recipients]
                self.previous[handle] = previous
                self.issued[handle] = max(self.issued.get(handle, 0), version)
            case _:
                raise ValueError(f"not a master log record: {record!r}")

    def to_plain(self) -> dict[str, Any]:
        """The whole state as plain data (a checkpoint)."""
        return {
            "files": {path: list(chunks) for path, chunks in self.files.items()},
            "versions": [[handle, version] for handle, version in self.versions.items()],
            "next_handle": self.next_handle,
            "recipients": [[handle, list(nodes)] for handle, nodes in self.recipients.items()],
            "previous": [[handle, version] for handle, version in self.previous.items()],
            "issued": [[handle, version] for handle, version in self.issued.items()],
        }

    @classmethod
    def from_plain(cls, data: dict[str, Any]) -> MasterState:
        """Rebuild from a checkpoint (ValueError if it is not one)."""
        try:
            files = {str(path): [int(h) for h in chunks] for path, chunks in data["files"].items()}
            versions = {int(h): int(v) for h, v in data["versions"]}
            recipients = {int(h): [str(n) for n in nodes] for h, nodes in data["recipients"]}
            previous = {int(h): int(v) for h, v in data["previous"]}
            issued = {int(h): int(v) for h, v in data["issued"]}
            return cls(files, versions, int(data["next_handle"]), recipients, previous, issued)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError(f"not a master checkpoint: {error!r}") from error

    @classmethod
    def recover(
        cls, checkpoint: dict[str, Any] | None, records: Iterable[list[Any]]
    ) -> MasterState:
        """The state after a restart: the last checkpoint, then the log after it."""
        state = cls.from_plain(checkpoint) if checkpoint is not None else cls()
        for record in records:
            state.apply(record)
        return state


@dataclass(frozen=True)
class MasterReady(Ready):
    """The master's Ready: operation-log records to append and fsync, and sometimes a
    checkpoint of the whole state (after which the log may be emptied)."""

    log_records: tuple[list[Any], ...] = ()
    checkpoint: dict[str, Any] | None = None

    @property
    def must_persist(self) -> bool:
        return bool(self.log_records) or self.checkpoint is not None


@dataclass
class _Lease:
    version: int
    primary: NodeId
    secondaries: tuple[NodeId, ...]
    expires_at: int  # master ticks: the master may name a new primary from then on
    acked: set[NodeId] = field(default_factory=set)
    complete: bool = False  # every replica confirmed: clients may use it

    @property
    def replicas(self) -> tuple[NodeId, ...]:
        return (self.primary, *self.secondaries)


@dataclass(frozen=True)
class MasterStatistics:
    """What the master did so far (since it last booted)."""

    now: int
    files: int
    chunks: int
    client_requests: int
    leases_granted: int
    heartbeats: int
    stale_replicas_found: int
    copies_started: int
    copies_done: int
    corrupt_reports: int


class MasterCore:
    """The GFS master's rules; see the module docstring. Pure: no I/O, no clock."""

    def __init__(
        self,
        node_id: NodeId,
        chunkservers: Iterable[NodeId],
        config: GFSConfig,
        rng: random.Random,
        state: MasterState | None = None,
    ) -> None:
        self.node_id = node_id
        self.chunkservers = tuple(sorted(chunkservers))
        self.config = config
        self.rng = rng
        self.state = state if state is not None else MasterState()
        self.now = 0
        # §4.5 after a restart: a lease granted before it may still be held; wait it out
        # (a master that never granted one -- no chunk has a version yet -- need not).
        granted_before = any(self.state.versions.values())
        self.grants_blocked_until = config.master_lease_ticks if granted_before else 0
        self.holders: dict[int, dict[NodeId, int]] = {}  # handle -> {chunkserver: version}
        self.last_heard: dict[NodeId, int] = {}
        self.reported: dict[NodeId, dict[int, int]] = {}  # each one's last heartbeat
        self.leases: dict[int, _Lease] = {}
        self.copies: dict[int, tuple[NodeId, int]] = {}  # handle -> (target, deadline)
        # Versions this master granted since it booted and saw every replica confirm: a
        # mutation may have happened under them, so they are never rolled back.
        self.completed: set[tuple[int, int]] = set()
        self._outbox: list[Envelope] = []
        self._log: list[list[Any]] = []
        self._records_since_checkpoint = 0
        self._checkpoint_due = False
        self._counts = dict.fromkeys(
            ("client_requests", "leases_granted", "heartbeats", "stale_replicas_found",
             "copies_started", "copies_done", "corrupt_reports"), 0,
        )  # fmt: skip

    # -- clients' requests ------------------------------------------------------------------

    def create(self, path: str) -> Refused | None:
        """Create an empty file; Refused if the path is taken or malformed."""
        self._counts["client_requests"] += 1
        if not isinstance(path, str) or not path.startswith("/") or len(path) > 255:
            return Refused(f"a path is a string starting with '/' (at most 255), got {path!r}")
        if path in self.state.files:
            return Refused(f"{path} already exists")
        self._record(["create", path])
        return None

    def files(self) -> list[str]:
        """Every path in the namespace."""
        return sorted(self.state.files)

    def chunk_count(self, path: str) -> int | Refused:
        """How many chunks the file has (Refused: no such file)."""
        self._counts["client_requests"] += 1
        chunks = self.state.files.get(path)
        return Refused(f"no such file: {path!r}") if chunks is None else len(chunks)

    def lookup(
        self, path: str, index: int, *, for_mutation: bool = False, allocate: bool = False
    ) -> ChunkLocations | Retry | Refused:
        """Where chunk ``index`` of ``path`` lives (§2.4). ``for_mutation``: also the lease
        holder, granting a lease if none is held. ``allocate``: the chunk one past the last
        one is created (an append that filled the last chunk moves on)."""
        self._counts["client_requests"] += 1
        chunks = self.state.files.get(path)
        if chunks is None:
            return Refused(f"no such file: {path!r}")
        if not isinstance(index, int) or index < 0:
            return Refused(f"a chunk index is a non-negative integer, got {index!r}")
        if index > len(chunks) or (index == len(chunks) and not allocate):
            return Refused(f"{path} has {len(chunks)} chunk(s); there is no chunk {index}")
        if index == len(chunks):
            handle = self._allocate(path)
            if handle is None:
                return Retry("no live chunkserver to hold a new chunk")
        handle = chunks[index]
        version = self.state.versions[handle]
        if not for_mutation:
            current = self.current_replicas(handle)
            if version == 0 or not current:
                return Retry(f"chunk {handle} has no live up-to-date replica")
            return ChunkLocations(handle, version, current, "", ())
        return self._lease_for(handle)

    # -- leases -----------------------------------------------------------------------------

    def _lease_for(self, handle: int) -> ChunkLocations | Retry:
        lease = self.leases.get(handle)
        if lease is not None:
            if lease.complete:
                return ChunkLocations(
                    handle, lease.version, lease.replicas, lease.primary, lease.secondaries
                )
            return Retry(f"a lease on chunk {handle} is being granted or running out")
        if self.now < self.grants_blocked_until:
            return Retry("the master restarted: it waits until any earlier lease has expired")
        if handle in self.copies:
            return Retry(f"chunk {handle} is being re-replicated")
        version = self.state.versions[handle]
        fresh = version == 0  # never granted: its replicas are the ones chosen at allocation
        replicas = self._fresh_replicas(handle) if fresh else self.current_replicas(handle)
        if not replicas:
            return Retry(f"chunk {handle} has no live up-to-date replica")
        new_version = max(version, self.state.issued.get(handle, 0)) + 1  # never reused
        self._grant(handle, version, new_version, replicas, create=fresh)
        return Retry(f"granting a lease on chunk {handle}")

    def _grant(
        self, handle: int, previous: int, version: int, replicas: tuple[NodeId, ...], create: bool
    ) -> None:
        # The new version is durable before any replica hears of it (persist, then send).
        ordered = sorted(replicas)
        self._record(["version", handle, version, ordered, previous])
        primary = ordered[version % len(ordered)]  # rotates, so leases move between replicas
        secondaries = tuple(node for node in ordered if node != primary)
        self.leases[handle] = _Lease(
            version,
            primary,
            secondaries,
            expires_at=self.now + self.lease_ticks_counted(),
        )
        self._counts["leases_granted"] += 1
        grant = Grant(
            handle, version, previous, primary, secondaries, self.config.lease_ticks, create
        )
        for node in ordered:
            self._send(node, grant)

    def lease_ticks_counted(self) -> int:
        """How long the master treats a new lease as held (a mutant shortens it)."""
        return self.config.master_lease_ticks

    def _allocate(self, path: str) -> int | None:
        live = [node for node in self.chunkservers if self.is_live(node)]
        if not live:
            return None
        handle = self.state.next_handle
        self._record(["chunk", path, handle])
        load = {node: 0 for node in live}
        for holders in self.holders.values():
            for node in holders:
                if node in load:
                    load[node] += 1
        self.rng.shuffle(live)
        chosen = sorted(live, key=lambda node: load[node])[: self.config.replicas]
        self.holders[handle] = {node: 0 for node in chosen}
        return handle

    def _fresh_replicas(self, handle: int) -> tuple[NodeId, ...]:
        chosen = [node for node in self.holders.get(handle, {}) if self.is_live(node)]
        if not chosen:  # the chosen ones died (or the master restarted): choose again
            live = [node for node in self.chunkservers if self.is_live(node)]
            self.rng.shuffle(live)
            chosen = live[: self.config.replicas]
        return tuple(sorted(chosen))

    # -- who may be handed to a client --------------------------------------------------------

    def is_live(self, node: NodeId) -> bool:
        """Heard from within ``dead_after_ticks``."""
        heard = self.last_heard.get(node)
        return heard is not None and self.now - heard < self.config.dead_after_ticks

    def current_replicas(self, handle: int) -> tuple[NodeId, ...]:
        """The live replicas at the chunk's current version: the only ones a client is given
        (a replica with an older version missed mutations while it was down)."""
        version = self.state.versions.get(handle, 0)
        holders = self.holders.get(handle, {})
        return tuple(sorted(n for n, v in holders.items() if v == version and self.is_live(n)))

    # -- messages ---------------------------------------------------------------------------

    def receive(self, sender: NodeId, message: Any) -> None:
        """A chunkserver's message (anything else is ignored: the master serves only them)."""
        if sender not in self.chunkservers:
            return
        match message:
            case Heartbeat():
                self._heartbeat(sender, message)
            case GrantAck(handle=handle, version=version):
                self._grant_ack(sender, handle, version)
            case ChunkInstalled(handle=handle, version=version):
                self._installed(sender, handle, version)
            case ReportCorrupt(handle=handle):
                self._counts["corrupt_reports"] += 1
                self.holders.get(handle, {}).pop(sender, None)
            case _:
                pass

    def _heartbeat(self, sender: NodeId, heartbeat: Heartbeat) -> None:
        self._counts["heartbeats"] += 1
        self.last_heard[sender] = self.now
        self.reported[sender] = {report.handle: report.version for report in heartbeat.chunks}
        reported = set()
        for report in heartbeat.chunks:
            handle, version = report.handle, report.version
            reported.add(handle)
            known = self.state.versions.get(handle)
            if known is None:  # a chunk of no file: garbage (§4.4)
                self._send(sender, DeleteChunk(handle, _ANY_VERSION))
                continue
            if version > self.state.issued.get(handle, 0):
                # §4.5: higher than any version issued (the master lost a log write): adopt
                self._record(["version", handle, version, [sender], known])
                known = version
            elif self._missed_latest_grant(sender, handle, version):
                if not self._roll_back(handle):
                    continue  # keep it (not stale yet, not current either)
                known = version
            lease = self.leases.get(handle)
            pending = lease is not None and not lease.complete and sender in lease.replicas
            if version != known and not pending:
                self._stale(sender, handle, version, known)
            elif version == known:
                self.holders.setdefault(handle, {})[sender] = version
        for handle, holders in self.holders.items():  # what it no longer has, it lost
            if sender in holders and handle not in reported and holders[sender] != 0:
                del holders[sender]
        for handle in list(self.state.versions):  # a new chunk it never made
            if handle not in reported and self._missed_latest_grant(sender, handle, 0):
                self._roll_back(handle)

    def _stale(self, sender: NodeId, handle: int, version: int, known: int) -> None:
        """``sender`` holds ``handle`` at another version than the current one: never hand
        it out; if older, it missed mutations while it was down -- garbage (§4.5)."""
        self.holders.setdefault(handle, {}).pop(sender, None)
        if version < known:
            self._counts["stale_replicas_found"] += 1
            self._send(sender, DeleteChunk(handle, known))
        elif version <= self.state.issued.get(handle, 0) and self.current_replicas(handle):
            # A version that was rolled back (its grant never completed): garbage too, now
            # that up-to-date replicas exist. (A newer version it may get meanwhile is safe:
            # only a copy below ``version + 1`` is deleted.)
            self._send(sender, DeleteChunk(handle, version + 1))

    def _missed_latest_grant(self, sender: NodeId, handle: int, version: int) -> bool:
        """Does ``sender``, a replica the latest grant on ``handle`` went to, still have
        the version before it (0: a new chunk it never created)?"""
        state = self.state
        return (
            version < state.versions.get(handle, 0)
            and version == state.previous.get(handle)
            and sender in state.recipients.get(handle, ())
        )

    def _roll_back(self, handle: int) -> bool:
        """A replica never got the latest grant on ``handle``, so that grant never completed
        (completing needs every recipient) and no mutation happened under it. Before this
        master's restart wait is over a delayed grant may still arrive: wait. After it, if
        no live replica has the new version, go back to the previous one -- it is still the
        latest data -- or the chunk would have no up-to-date replica at all. True if the
        previous version is now the current one."""
        if handle in self.leases or self.now < self.grants_blocked_until:
            return False
        if (handle, self.state.versions.get(handle, 0)) in self.completed:
            return False  # it did complete: that report was sent before the grant arrived
        if self.current_replicas(handle):
            return False
        self._record(["version", handle, self.state.previous.get(handle, 0), [], 0])
        return True

    def _grant_ack(self, sender: NodeId, handle: int, version: int) -> None:
        if self.state.versions.get(handle) == version:
            self.holders.setdefault(handle, {})[sender] = version
        lease = self.leases.get(handle)
        if lease is None or lease.version != version or sender not in lease.replicas:
            return
        lease.acked.add(sender)
        if not lease.complete and now_complete(lease):
            lease.complete = True
            self.completed.add((handle, version))

    def _installed(self, sender: NodeId, handle: int, version: int) -> None:
        copy = self.copies.get(handle)
        if self.state.versions.get(handle) == version and copy is not None and copy[0] == sender:
            self.holders.setdefault(handle, {})[sender] = version
            del self.copies[handle]
            self._counts["copies_done"] += 1
        elif self.state.versions.get(handle, _ANY_VERSION) > version:
            self._send(sender, DeleteChunk(handle, self.state.versions.get(handle, _ANY_VERSION)))

    # -- time -------------------------------------------------------------------------------

    def tick(self) -> None:
        self.now += 1
        for handle in [h for h, lease in self.leases.items() if self.now >= lease.expires_at]:
            del self.leases[handle]  # from now on another primary may be named
        for handle in [h for h, (_, deadline) in self.copies.items() if self.now >= deadline]:
            del self.copies[handle]  # a late copy arrives stale if a grant happened since
        self._re_replicate()

    def _re_replicate(self) -> None:
        if self.now < self.grants_blocked_until:
            return  # a lease from before the restart may still be mutating the chunk
        live = [node for node in self.chunkservers if self.is_live(node)]
        for handle, version in self.state.versions.items():
            if version == 0 or handle in self.leases or handle in self.copies:
                continue
            current = self.current_replicas(handle)
            if not current or len(current) >= self.config.replicas:
                continue
            holders = self.holders.get(handle, {})
            targets = [
                node for node in live
                if node not in holders and self.reported.get(node, {}).get(handle, 0) < version
            ]  # fmt: skip
            if not targets:
                continue
            target = min(targets, key=lambda node: (self._load(node), node))
            source = self.rng.choice(current)
            self.copies[handle] = (target, self.now + self.config.copy_timeout_ticks)
            self._counts["copies_started"] += 1
            self._send(target, CopyChunk(handle, version, source))

    def _load(self, node: NodeId) -> int:
        return sum(1 for holders in self.holders.values() if node in holders)

    # -- Ready ------------------------------------------------------------------------------

    def _record(self, record: list[Any]) -> None:
        self.state.apply(record)
        self._log.append(record)
        self._records_since_checkpoint += 1
        if self._records_since_checkpoint >= self.config.checkpoint_every:
            self._checkpoint_due = True

    def _send(self, node: NodeId, message: Any) -> None:
        self._outbox.append(Envelope(self.node_id, node, message))

    def has_ready(self) -> bool:
        return bool(self._outbox or self._log or self._checkpoint_due)

    def take_ready(self) -> MasterReady:
        checkpoint = None
        if self._checkpoint_due:
            checkpoint, self._checkpoint_due = self.state.to_plain(), False
            self._records_since_checkpoint = 0
        ready = MasterReady(
            messages=self._outbox, log_records=tuple(self._log), checkpoint=checkpoint
        )
        self._outbox, self._log = [], []
        return ready

    # -- observing --------------------------------------------------------------------------

    def lease_holder(self, handle: int) -> tuple[NodeId, int] | None:
        """(primary, version) of the lease the master counts as held on ``handle``, if any."""
        lease = self.leases.get(handle)
        return None if lease is None else (lease.primary, lease.version)

    def chunk_table(self) -> list[dict[str, Any]]:
        """One row per chunk: file, index, handle, version, up-to-date and stale replicas,
        and the lease holder -- what the panel draws."""
        rows = []
        for path, chunks in sorted(self.state.files.items()):
            for index, handle in enumerate(chunks):
                version = self.state.versions.get(handle, 0)
                holders = self.holders.get(handle, {})
                lease = self.leases.get(handle)
                rows.append(
                    {
                        "path": path,
                        "index": index,
                        "handle": handle,
                        "version": version,
                        "replicas": list(self.current_replicas(handle)),
                        "stale": sorted(n for n, v in holders.items() if 0 < v < version),
                        "primary": lease.primary if lease is not None and lease.complete else "",
                    }
                )
        return rows

    def statistics(self) -> MasterStatistics:
        return MasterStatistics(
            now=self.now,
            files=len(self.state.files),
            chunks=len(self.state.versions),
            **self._counts,
        )


def now_complete(lease: _Lease) -> bool:
    """Every replica named in the grant has confirmed the new version."""
    return set(lease.replicas) <= lease.acked
