"""GFS in the simulator: the master and chunkserver cores under seeded faults, and its checks.

What it is: `GFSSimSystem`, the `distlab.sim.SimSystem` that runs GFS in a
`distlab.sim.World` -- node ``n0`` the master, the others chunkservers -- with simulated
disks (the master's operation log and checkpoint; each chunkserver's chunk bytes and
versions, which survive crashes) and simulated clients doing record appends the way the
client library does (ask the master, push the data to every replica, ask the primary,
retry on any failure). `run_schedule` adds random crashes, restarts and partitions from a
seed; `finish` heals everything and checks what must hold at the end.

The named safety properties, checked as the run goes:

- **One Primary Per Chunk** -- after every event, at most one chunkserver believes it holds
  the lease on a chunk (all clocks here are one virtual clock, so "at the same time" is
  exact);
- **No Stale Replica Served** -- every replica the master hands a client, and every
  replica that answers a read, has the chunk's current version;
- **Acknowledged Append Durable** -- every append a client was told succeeded is, byte for
  byte, at its offset in every replica at the chunk's current version (checked every
  ``check_every`` ticks and at the end);
- **Records Whole** -- the reader finds every acknowledged record, and every record it
  finds is one a client appended, never a torn piece.

What it must never do: read the wall clock or the global random module.
Where it fits: tests/gfs/test_simulated.py sweeps seeds and runs mutants
(`GrantsBeforeLeaseExpires`, `HandsOutStaleReplicas`) that these checks must catch.
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from typing import Any

from distlab.core import NodeId
from distlab.gfs.chunkserver import ChunkMeta, ChunkserverCore, ChunkserverReady, FetchChunk
from distlab.gfs.master import MasterCore, MasterReady, MasterState
from distlab.gfs.messages import ChunkLocations, GFSConfig, MutationResult, Refused, Retry
from distlab.gfs.records import encode_record, read_unique
from distlab.sim.network import NetworkConfig
from distlab.sim.world import SimSystem, World

__all__ = [
    "SIM_CONFIG",
    "SIM_NETWORK",
    "AckedAppend",
    "GFSSimSystem",
    "GrantsBeforeLeaseExpires",
    "HandsOutStaleReplicas",
    "SimRunSummary",
    "run_gfs_simulation",
    "simulate_gfs",
]

MASTER: NodeId = "n0"

SIM_CONFIG = GFSConfig(
    chunk_size=512,
    block_size=64,
    replicas=3,
    lease_ticks=30,
    max_message_delay_ticks=12,
    heartbeat_ticks=4,
    dead_after_ticks=20,
    mutation_timeout_ticks=12,
    gap_timeout_ticks=6,
    copy_timeout_ticks=20,
    checkpoint_every=25,
)
"""Small chunks (records of 30-60 bytes fill one in about ten appends, so padding and new
chunks come often) and short leases, so a few hundred ticks see many of each."""

SIM_NETWORK = NetworkConfig(
    drop_rate=0.05, duplicate_rate=0.05, delay_ticks=(1, 3), long_delay_rate=0.02,
    long_delay_ticks=(4, 12),
)  # fmt: skip
"""Unreliable, with every delay within SIM_CONFIG.max_message_delay_ticks (the lease rule's
assumption: a bounded message delay)."""


@dataclass
class _SimChunk:
    version: int
    data: bytearray


@dataclass(frozen=True)
class AckedAppend:
    """A record append a client was told succeeded: where the primary put it."""

    handle: int
    offset: int
    record_id: str
    encoded: bytes


@dataclass
class _SimClient:
    name: str
    path: str
    to_append: int
    sequence: int = 0
    record: tuple[str, bytes] | None = None
    chunk_index: int = 0
    waiting_for: str | None = None
    waiting_handle: int = 0
    deadline: int = 0
    not_before: int = 0
    attempts: int = 0
    rng: random.Random = field(default_factory=random.Random)


@dataclass(frozen=True)
class SimRunSummary:
    """What one simulated run did (a test asserts it was not vacuous)."""

    seed: int
    acked: int
    attempts: int
    duplicates: int
    pads: int
    grants: int
    crashes: int
    stale_found: int
    copies: int


class GFSSimSystem(SimSystem):
    """GFS's cores in a World, with simulated disks, clients and the safety checks."""

    def __init__(
        self,
        config: GFSConfig = SIM_CONFIG,
        *,
        master_cls: type[MasterCore] = MasterCore,
        chunkserver_cls: type[ChunkserverCore] = ChunkserverCore,
        clients: int = 3,
        appends_per_client: int = 12,
        path: str = "/log",
        client_timeout_ticks: int = 40,
        check_every: int = 10,
    ) -> None:
        self.config = config
        self.master_cls = master_cls
        self.chunkserver_cls = chunkserver_cls
        self.path = path
        self.client_timeout_ticks = client_timeout_ticks
        self.check_every = check_every
        self.master_log: list[list[Any]] = []
        self.master_checkpoint: dict[str, Any] | None = None
        self.disks: dict[NodeId, dict[int, _SimChunk]] = {}
        self.acked: list[AckedAppend] = []
        self.appended: dict[str, bytes] = {}  # every record id a client tried -> its bytes
        self.clients = [_SimClient(f"c{i}", path, appends_per_client) for i in range(clients)]
        self._waiting: dict[str, _SimClient] = {}
        self._fetches: list[tuple[NodeId, FetchChunk]] = []
        self.attempts = 0
        self.crashes = 0
        self.master_counts: dict[str, int] = {}

    # -- SimSystem hooks --------------------------------------------------------------------

    def bind(self, world: World) -> None:
        super().bind(world)
        for i, client in enumerate(self.clients):
            client.rng = random.Random(world.seed * 1000 + i)

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        if node_id == MASTER:
            state = MasterState.recover(copy.deepcopy(self.master_checkpoint), self.master_log)
            return self.master_cls(node_id, peers, self.config, rng, state)
        disk = self.disks.setdefault(node_id, {})
        chunks = {h: ChunkMeta(c.version, len(c.data)) for h, c in disk.items()}
        return self.chunkserver_cls(node_id, MASTER, self.config, rng, chunks)

    def persist(self, node_id: NodeId, core: Any, ready: Any) -> None:
        if isinstance(ready, MasterReady):
            if ready.checkpoint is not None:
                self.master_checkpoint = copy.deepcopy(ready.checkpoint)
                self.master_log = []
            else:
                self.master_log.extend(list(record) for record in ready.log_records)
            return
        assert isinstance(ready, ChunkserverReady)
        disk = self.disks.setdefault(node_id, {})
        for handle in ready.deletes:
            disk.pop(handle, None)
        for write in ready.writes:
            chunk = disk.setdefault(write.handle, _SimChunk(0, bytearray()))
            end = write.offset + len(write.data)
            if len(chunk.data) < write.offset:
                chunk.data.extend(bytes(write.offset - len(chunk.data)))
            chunk.data[write.offset : end] = write.data
        for handle, version in ready.versions:
            disk.setdefault(handle, _SimChunk(0, bytearray())).version = version

    def output(self, node_id: NodeId, core: Any, item: Any) -> None:
        match item:
            case MutationResult():
                client = self._waiting.pop(item.request_id, None)
                if client is not None:
                    self._result(client, item)
            case FetchChunk():
                self._fetches.append((node_id, item))  # done between events, not inside one
            case _:
                pass

    def after_event(self, node_id: NodeId, core: Any) -> None:
        primaries: dict[int, list[NodeId]] = {}
        for name, node in self.world.nodes.items():
            if node is None or name == MASTER:
                continue
            for handle in node.leases:
                if node.holds_lease(handle):
                    primaries.setdefault(handle, []).append(name)
        for handle, holders in primaries.items():
            if len(holders) > 1:
                self.world.violation(
                    "One Primary Per Chunk", f"chunk {handle} has primaries {sorted(holders)}"
                )

    def fields(self, core: Any) -> dict[str, Any]:
        return dict(vars(core.statistics()))

    # -- clients ----------------------------------------------------------------------------

    def _master(self) -> MasterCore | None:
        return self.world.nodes.get(MASTER)

    def step_clients(self) -> None:
        """One tick's worth of client work (call after each `World.run_for(1)`)."""
        world = self.world
        now = world.now
        while self._fetches:
            target, fetch = self._fetches.pop(0)
            source = self.disks.get(fetch.source, {}).get(fetch.handle)
            if (
                world.alive(target)
                and world.alive(fetch.source)
                and source is not None
                and source.version == fetch.version
            ):
                world.operate(target, _installer(fetch, bytes(source.data)))
        for client in self.clients:
            if now % 3 == 0:
                self._read_lookup(client)
            if client.waiting_for is not None:
                if now >= client.deadline:  # the primary never answered: may have happened
                    self._waiting.pop(client.waiting_for, None)
                    client.waiting_for = None
                    client.not_before = now + 2
                continue
            if now < client.not_before:
                continue
            if client.record is None:
                if client.sequence >= client.to_append:
                    continue
                client.sequence += 1
                record_id = f"{client.name}-{client.sequence}"
                payload = bytes(
                    client.rng.randrange(256) for _ in range(client.rng.randrange(16, 48))
                )
                client.record = (record_id, encode_record(record_id, payload))
                self.appended[record_id] = client.record[1]
            self._attempt(client)
        if self.check_every and now % self.check_every == 0:
            self.check_durable()

    def _attempt(self, client: _SimClient) -> None:
        world = self.world
        now = world.now
        if not world.alive(MASTER) or client.record is None:
            client.not_before = now + 3
            return
        self.attempts += 1
        client.attempts += 1
        record_id, encoded = client.record
        count = world.operate(MASTER, lambda m: m.chunk_count(client.path))
        if isinstance(count, Refused):
            world.operate(MASTER, lambda m: m.create(client.path))
            count = 0
        assert isinstance(count, int)
        client.chunk_index = max(client.chunk_index, count - 1, 0)
        index = client.chunk_index
        answer = world.operate(
            MASTER, lambda m: m.lookup(client.path, index, for_mutation=True, allocate=True)
        )
        if not isinstance(answer, ChunkLocations):
            assert isinstance(answer, (Retry, Refused)), answer
            client.not_before = now + 3
            return
        self._check_not_stale(answer)
        data_id = f"{record_id}#{client.attempts}"
        for replica in answer.replicas:  # the data flow: push to every replica first
            if not world.alive(replica):
                client.not_before = now + 5  # a connection refused: definite, try later
                return
            world.operate(replica, lambda core: core.store_pushed(data_id, encoded))
        if not world.alive(answer.primary):
            client.not_before = now + 5
            return
        request_id = f"{data_id}@{answer.handle}"
        client.waiting_for = request_id
        client.waiting_handle = answer.handle
        client.deadline = now + self.client_timeout_ticks
        self._waiting[request_id] = client
        world.operate(
            answer.primary,
            lambda core: core.append(request_id, answer.handle, answer.version, data_id),
        )

    def _result(self, client: _SimClient, result: MutationResult) -> None:
        client.waiting_for = None
        handle = client.waiting_handle
        if result.ok and client.record is not None:
            record_id, encoded = client.record
            self.acked.append(AckedAppend(handle, result.offset, record_id, encoded))
            client.record = None
            client.not_before = self.world.now + 1
        elif result.chunk_full:
            client.chunk_index += 1  # §3.3: retry on the next chunk
        else:
            client.not_before = self.world.now + 2

    def _read_lookup(self, client: _SimClient) -> None:
        """A reader asks where a random chunk of the file is and reads from a replica."""
        master = self._master()
        if master is None or not master.state.files.get(client.path):
            return
        index = client.rng.randrange(len(master.state.files[client.path]))
        answer = self.world.operate(MASTER, lambda m: m.lookup(client.path, index))
        if isinstance(answer, ChunkLocations):
            self._check_not_stale(answer)
            replica = client.rng.choice(answer.replicas)
            served = self.world.operate(
                replica, lambda core: core.readable(answer.handle, answer.version, 0)
            )
            chunk = self.disks.get(replica, {}).get(answer.handle)
            current = master.state.versions.get(answer.handle, 0)
            if isinstance(served, int) and chunk is not None and chunk.version < current:
                self.world.violation(
                    "No Stale Replica Served",
                    f"{replica} served chunk {answer.handle} at "
                    f"v{chunk.version}; the chunk is at v{current}",
                )

    def _check_not_stale(self, answer: ChunkLocations) -> None:
        master = self._master()
        current = master.state.versions.get(answer.handle) if master is not None else None
        for replica in answer.replicas:
            chunk = self.disks.get(replica, {}).get(answer.handle)
            if chunk is not None and current is not None and chunk.version < current:
                self.world.violation(
                    "No Stale Replica Served",
                    f"the master handed out {replica} for chunk {answer.handle} at "
                    f"v{chunk.version}; the chunk is at v{current}",
                )

    # -- checks -----------------------------------------------------------------------------

    def current_replicas(self, handle: int) -> list[NodeId]:
        """Chunkservers whose disk holds ``handle`` at the master's current version."""
        master = self._master()
        if master is None:
            return []
        version = master.state.versions.get(handle)
        return sorted(
            node for node, disk in self.disks.items()
            if handle in disk and disk[handle].version == version
        )  # fmt: skip

    def check_durable(self) -> None:
        """Acknowledged Append Durable: every acked record, byte for byte, in every replica
        at the current version."""
        if self._master() is None:
            return
        for acked in self.acked:
            for node in self.current_replicas(acked.handle):
                data = self.disks[node][acked.handle].data
                if bytes(data[acked.offset : acked.offset + len(acked.encoded)]) != acked.encoded:
                    self.world.violation(
                        "Acknowledged Append Durable",
                        f"record {acked.record_id} (chunk {acked.handle} @ {acked.offset}) is "
                        f"not in {node}'s up-to-date replica",
                    )

    def check_records(self) -> int:
        """Records Whole: read the file from each up-to-date replica the way an application
        does; returns the duplicates the reader dropped."""
        master = self._master()
        assert master is not None, "the master must be up to read the file"
        acked_ids = {acked.record_id for acked in self.acked}
        duplicates = 0
        for replica_choice in range(self.config.replicas):
            chunks = self.replica_chunks(replica_choice)
            records = read_unique(chunks)
            total = sum(len(read_unique([c])) for c in chunks)
            duplicates = max(duplicates, total - len(records))
            for record in records:
                if self.appended.get(record.record_id) is None:
                    self.world.violation("Records Whole", f"{record.record_id} was never appended")
                expected = self.appended[record.record_id]
                if encode_record(record.record_id, record.payload) != expected:
                    self.world.violation("Records Whole", f"{record.record_id} reads back changed")
            missing = acked_ids - {record.record_id for record in records}
            if missing:
                self.world.violation(
                    "Acknowledged Append Durable", f"the reader misses {sorted(missing)[:5]}"
                )
        return duplicates

    def replica_chunks(self, choice: int = 0) -> list[bytes]:
        """The file's chunks as a reader would get them: for each chunk, the bytes of one
        up-to-date replica (the ``choice``-th, wrapping around)."""
        master = self._master()
        assert master is not None, "the master must be up to read the file"
        chunks = []
        for handle in master.state.files.get(self.path, []):
            holders = self.current_replicas(handle)
            if holders:
                chunks.append(bytes(self.disks[holders[choice % len(holders)]][handle].data))
        return chunks

    # -- a whole run ------------------------------------------------------------------------

    def run_schedule(self, ticks: int, rng: random.Random, fault_every: int = 15) -> None:
        """Run ``ticks`` ticks with clients appending and, every ``fault_every`` ticks on
        average, a random fault: crash or restart a node (the master too), cut one off,
        heal."""
        world = self.world
        servers = [name for name in world.names if name != MASTER]
        for _ in range(ticks):
            world.run_for(1)
            self.step_clients()
            if rng.random() >= 1 / fault_every:
                continue
            roll = rng.random()
            down = [name for name in world.names if not world.alive(name)]
            if roll < 0.35 and len(down) < len(servers) - 1:
                world.crash(rng.choice(servers))
                self.crashes += 1
            elif roll < 0.45 and world.alive(MASTER):
                world.crash(MASTER)
                self.crashes += 1
            elif roll < 0.75 and down:
                world.restart(rng.choice(down))
            elif roll < 0.87:
                world.isolate(rng.choice(world.names))
            else:
                world.heal()

    def finish(self, max_ticks: int = 1500) -> None:
        """Heal, restart everyone, let the clients finish (or time run out), then check."""
        world = self.world
        world.heal()
        for name in world.names:
            if not world.alive(name):
                world.restart(name)
        for _ in range(max_ticks):
            world.run_for(1)
            self.step_clients()
            if all(c.record is None and c.sequence >= c.to_append for c in self.clients):
                break
        world.run_for(self.config.heartbeat_ticks * 2)
        self.check_durable()
        self.check_records()

    def summary(self) -> SimRunSummary:
        """Counts for the run so far."""
        pads = grants = 0
        for name in self.world.names:
            node = self.world.nodes[name]
            if isinstance(node, ChunkserverCore):
                stats = node.statistics()
                pads += stats.pads
                grants += stats.grants
        master = self._master()
        stats_m = master.statistics() if master is not None else None
        return SimRunSummary(
            seed=self.world.seed,
            acked=len(self.acked),
            attempts=self.attempts,
            duplicates=self.check_records() if master is not None else 0,
            pads=pads,
            grants=grants,
            crashes=self.crashes,
            stale_found=stats_m.stale_replicas_found if stats_m else 0,
            copies=stats_m.copies_done if stats_m else 0,
        )


def run_gfs_simulation(seed: int, **options: Any) -> SimRunSummary:
    """One seeded run (see `simulate_gfs`) and its summary. Raises `SafetyViolation` (naming
    the property and the seed) if a check fails."""
    return simulate_gfs(seed, **options).summary()


def simulate_gfs(
    seed: int,
    *,
    chunkservers: int = 4,
    ticks: int = 400,
    master_cls: type[MasterCore] = MasterCore,
    chunkserver_cls: type[ChunkserverCore] = ChunkserverCore,
    network: NetworkConfig = SIM_NETWORK,
    **options: Any,
) -> GFSSimSystem:
    """A master and ``chunkservers`` chunkservers, clients appending under random faults for
    ``ticks`` ticks, then `GFSSimSystem.finish`; returns the system (its disks, its acked
    appends, its World)."""
    system = GFSSimSystem(master_cls=master_cls, chunkserver_cls=chunkserver_cls, **options)
    world = World(system, seed=seed, nodes=1 + chunkservers, network=network)
    world.operate(MASTER, lambda master: master.create(system.path))
    system.run_schedule(ticks, random.Random(seed))
    system.finish()
    return system


def _installer(fetch: FetchChunk, data: bytes) -> Any:
    return lambda core: core.install(fetch.handle, fetch.version, data)


# -- mutants: each breaks one rule, and a check must notice -------------------------------------


class GrantsBeforeLeaseExpires(MasterCore):
    """Counts a lease as held only half as long as the primary does, so it names a new
    primary while the old one still believes it holds the lease."""

    def lease_ticks_counted(self) -> int:
        return self.config.lease_ticks // 2


class HandsOutStaleReplicas(MasterCore):
    """Forgets to compare versions: any live chunkserver holding the chunk is handed out,
    including one that missed mutations while it was down."""

    def current_replicas(self, handle: int) -> tuple[NodeId, ...]:
        holders = self.holders.get(handle, {})
        return tuple(sorted(node for node in holders if self.is_live(node)))

    def _stale(self, sender: NodeId, handle: int, version: int, known: int) -> None:
        self.holders.setdefault(handle, {})[sender] = version  # kept, and not deleted
