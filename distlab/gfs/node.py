"""GFS in real processes: node ``n0`` is the master, every other node a chunkserver.

What it is: `GFSNode`, one `distlab.cluster.CoreNode` that boots the master core on the
master's node and a chunkserver core on the others (one program per cluster, two roles), and
drives it with real time and real sockets:

- **the master** keeps its operation log in a `distlab.storage.DurableLog` (every record
  fsync'ed before anything is sent) and a checkpoint beside it, and recovers both on
  restart; replica locations are not on its disk -- chunkservers report them;
- **a chunkserver** keeps its chunks in a `ChunkStore` (a checksum per block, checked on
  every read) and serves the client library: ``push`` (data along the chain of replicas),
  ``append`` and ``write`` (at the primary; the answer waits for the secondaries),
  ``read``. A block that fails its checksum is reported and the copy dropped; the client
  reads another replica and the master re-replicates.

Ticks map to wall time: one tick is ``tick_ms`` milliseconds, and a node that was paused or
starved catches up on the ticks it missed, so a primary's lease runs out in wall time.
Bad requests (unknown path, wrong types, a master call on a chunkserver) get a clear error;
the node keeps serving.
What it must never do: decide anything the cores decide. Where it fits: ``Cluster.start(4,
service="gfs")`` runs it (`distlab.gfs.system`); `distlab.gfs.client.GFSClient` talks to it.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import Future
from typing import Any, ClassVar

import msgpack

from distlab.cluster.core_node import CoreNode
from distlab.cluster.program import NodeContext
from distlab.core import Core, Ready, derive_seed
from distlab.gfs.chunk_store import ChunkStore, CorruptChunk
from distlab.gfs.chunkserver import ChunkserverCore, ChunkserverReady, FetchChunk
from distlab.gfs.master import MasterCore, MasterReady, MasterState
from distlab.gfs.messages import CODEC, MutationResult, Refused, config_from_options
from distlab.storage import DurableLog, read_snapshot, write_snapshot

__all__ = ["GFSNode"]


class GFSNode(CoreNode):
    """The master on ``n0`` (or ``master=``), a chunkserver elsewhere; see the module docstring."""

    codec = CODEC
    tick_ms: ClassVar[float] = 20.0
    system_name = "gfs"

    def __init__(self, ctx: NodeContext) -> None:
        self.config = config_from_options(ctx.options)
        self.master_name = str(ctx.options.get("master", "n0"))
        self.is_master = ctx.name == self.master_name
        self._waiters: dict[str, Future] = {}
        self._waiters_lock = threading.Lock()
        super().__init__(ctx)

    # -- CoreNode ---------------------------------------------------------------------------

    def boot(self) -> Core:
        rng = random.Random(derive_seed(self.ctx.seed, "gfs"))
        if self.is_master:
            self.oplog = DurableLog(self.ctx.data_dir / "oplog")
            self.checkpoint_path = self.ctx.data_dir / "checkpoint"
            raw = read_snapshot(self.checkpoint_path)
            checkpoint = msgpack.unpackb(raw, raw=False) if raw is not None else None
            records = [msgpack.unpackb(r, raw=False) for r in self.oplog.records()]
            state = MasterState.recover(checkpoint, records)
            chunkservers = [name for name in self.ctx.peers]
            self.master = MasterCore(self.ctx.name, chunkservers, self.config, rng, state)
            return self.master
        self.store = ChunkStore(self.ctx.data_dir / "chunks", self.config)
        self.chunkserver = ChunkserverCore(
            self.ctx.name, self.master_name, self.config, rng, self.store.scan()
        )
        return self.chunkserver

    def persist(self, ready: Ready) -> None:
        if isinstance(ready, MasterReady):
            if ready.log_records:  # the log first: replaying it all gives the checkpoint
                self.oplog.extend(msgpack.packb(record) for record in ready.log_records)
                self.oplog.sync()
            if ready.checkpoint is not None:
                write_snapshot(self.checkpoint_path, msgpack.packb(ready.checkpoint))
                self.oplog.rewrite([])
        elif isinstance(ready, ChunkserverReady) and ready.must_persist:
            self.store.persist(ready)

    def output(self, item: Any) -> None:
        if isinstance(item, MutationResult):
            with self._waiters_lock:
                waiter = self._waiters.pop(item.request_id, None)
            if waiter is not None:
                waiter.set_result(item)
        elif isinstance(item, FetchChunk):
            threading.Thread(target=self._fetch, args=(item,), daemon=True).start()

    def _fetch(self, fetch: FetchChunk) -> None:
        """Re-replication: copy the chunk from its source, then install it (durably)."""
        try:
            source = self.ctx.client(fetch.source)
            data = source.call("GFS.read_chunk", fetch.handle, fetch.version, timeout=5.0)
            self.run(lambda core: core.install(fetch.handle, fetch.version, bytes(data)))
            self.ctx.log.info(
                "copied chunk %s v%s from %s", fetch.handle, fetch.version, fetch.source
            )
        except Exception as error:  # the master starts another copy after its timeout
            self.ctx.log.info(
                "copy of chunk %s from %s failed: %r", fetch.handle, fetch.source, error
            )

    def _tick_loop(self) -> None:
        """Tick by wall time: after a pause or a stall, catch up on the ticks missed, so a
        lease counted in ticks runs out in wall time."""
        period = self.tick_ms / 1000.0
        start = time.monotonic()
        done = 0
        while not self._stop.wait(period):
            due = int((time.monotonic() - start) / period)
            missed, done = due - done, due
            if missed > 0:
                self.run(lambda core, missed=missed: [core.tick() for _ in range(missed)])

    def services(self) -> dict[str, object]:
        return {"GFS": _GFSService(self), **super().services()}

    def status(self) -> dict[str, Any]:
        with self.lock:
            if self.is_master:
                return {
                    "role": "master",
                    "table": self.master.chunk_table(),
                    **vars(self.master.statistics()),
                }
            core = self.chunkserver
            return {
                "role": "chunkserver",
                "held": {str(h): [c.version, c.length] for h, c in sorted(core.chunks.items())},
                "primary_of": sorted(h for h in core.leases if core.holds_lease(h)),
                **vars(core.statistics()),
            }

    def close(self) -> None:
        super().close()
        if self.is_master:
            self.oplog.close()

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Any:
        from distlab.gfs.client import GFSClient

        return GFSClient(cluster, **options)

    # -- what the service calls ---------------------------------------------------------------

    def wait_mutation(self, request_id: str, start: Any, timeout_s: float) -> MutationResult:
        """Start a mutation at the primary and wait for its `MutationResult`."""
        waiter: Future = Future()
        with self._waiters_lock:
            self._waiters[request_id] = waiter
        try:
            self.run(start)
            return waiter.result(timeout=timeout_s)
        finally:
            with self._waiters_lock:
                self._waiters.pop(request_id, None)


def _check(value: Any, kind: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise ValueError(f"{what} must be {getattr(kind, '__name__', kind)}, got {value!r}")
    return value


class _GFSService:
    """The RPCs ``GFS.*``: the master's on the master, the chunkserver's on the others."""

    def __init__(self, node: GFSNode) -> None:
        self._node = node

    def _master(self) -> MasterCore:
        if not self._node.is_master:
            raise ValueError(f"{self._node.ctx.name} is a chunkserver; ask the master")
        return self._node.master

    def _chunkserver(self) -> None:
        if self._node.is_master:
            raise ValueError(f"{self._node.ctx.name} is the master; it holds no chunk data")

    # -- the master's --------------------------------------------------------------------

    def create(self, path: str) -> Any:
        """Create an empty file; returns None or a Refused."""
        self._master()
        _check(path, str, "a path")
        return CODEC.encode(self._node.run(lambda core: core.create(path)))

    def chunk_count(self, path: str) -> Any:
        """How many chunks the file has (an int) or a Refused."""
        self._master()
        _check(path, str, "a path")
        return CODEC.encode(self._node.run(lambda core: core.chunk_count(path)))

    def lookup(self, path: str, index: int, for_mutation: bool, allocate: bool) -> Any:
        """ChunkLocations, Retry or Refused (see `MasterCore.lookup`)."""
        self._master()
        _check(path, str, "a path")
        _check(index, int, "a chunk index")
        _check(for_mutation, bool, "for_mutation")
        _check(allocate, bool, "allocate")
        return CODEC.encode(
            self._node.run(
                lambda core: core.lookup(path, index, for_mutation=for_mutation, allocate=allocate)
            )
        )

    def files(self) -> list[str]:
        return self._node.run(lambda core: self._master().files())

    # -- the chunkservers' -----------------------------------------------------------------

    def push(self, data_id: str, data: bytes, chain: list[str]) -> int:
        """Keep ``data`` and pass it down the chain of replicas (§3.2); returns how many
        replicas hold it."""
        self._chunkserver()
        _check(data_id, str, "a data id")
        _check(data, bytes, "data")
        _check(chain, list, "a chain")
        if len(data) > self._node.config.chunk_size:
            raise ValueError(f"at most a chunk ({self._node.config.chunk_size} bytes) per push")
        self._node.run(lambda core: core.store_pushed(data_id, data))
        if not chain:
            return 1
        following = self._node.ctx.client(str(chain[0]))
        return 1 + following.call("GFS.push", data_id, data, chain[1:], timeout=5.0)

    def append(self, request_id: str, handle: int, version: int, data_id: str) -> Any:
        """Record append at the primary: a MutationResult once every replica answered."""
        self._chunkserver()
        for text, what in ((request_id, "a request id"), (data_id, "a data id")):
            _check(text, str, what)
        _check(handle, int, "a chunk handle")
        _check(version, int, "a version")
        return CODEC.encode(
            self._node.wait_mutation(
                request_id,
                lambda core: core.append(request_id, handle, version, data_id),
                self._timeout_s(),
            )
        )

    def write(self, request_id: str, handle: int, version: int, offset: int, data_id: str) -> Any:
        """A write at ``offset`` of the chunk, at the primary (a MutationResult)."""
        self._chunkserver()
        for text, what in ((request_id, "a request id"), (data_id, "a data id")):
            _check(text, str, what)
        for value, what in (
            (handle, "a chunk handle"),
            (version, "a version"),
            (offset, "an offset"),
        ):
            _check(value, int, what)
        return CODEC.encode(
            self._node.wait_mutation(
                request_id,
                lambda core: core.write(request_id, handle, version, offset, data_id),
                self._timeout_s(),
            )
        )

    def _timeout_s(self) -> float:
        node = self._node
        return 2 * node.config.mutation_timeout_ticks * node.tick_ms / 1000.0 + 1.0

    def read(self, handle: int, version: int, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes of the chunk from ``offset``, checksums checked; an error if this
        replica is not at ``version`` (stale) or a block is corrupt (read another replica)."""
        self._chunkserver()
        for value, what in (
            (handle, "a chunk handle"),
            (version, "a version"),
            (offset, "an offset"),
            (n, "a size"),
        ):
            _check(value, int, what)
        if n < 0:
            raise ValueError(f"a read size is not negative, got {n}")
        return self._node.run(lambda core: self._read(core, handle, version, offset, n))

    def length(self, handle: int, version: int) -> int:
        """The chunk's length in bytes at this replica (if it is at ``version``)."""
        self._chunkserver()
        answer = self._node.run(lambda core: core.readable(handle, version, 0))
        if isinstance(answer, Refused):
            raise ValueError(answer.reason)
        return answer

    def read_chunk(self, handle: int, version: int) -> bytes:
        """The whole chunk (for re-replication), checksums checked."""
        self._chunkserver()
        size = self._node.config.chunk_size
        return self._node.run(lambda core: self._read(core, handle, version, 0, size))

    def replica_bytes(self, handle: int) -> list[Any]:
        """[version, bytes] of this replica, whatever its version (to compare replicas)."""
        self._chunkserver()
        _check(handle, int, "a chunk handle")

        def take(core: ChunkserverCore) -> list[Any]:
            chunk = core.chunks.get(handle)
            if chunk is None:
                return [0, b""]
            return [chunk.version, self._node.store.read(handle, 0, self._node.config.chunk_size)]

        return self._node.run(take)

    def _read(self, core: ChunkserverCore, handle: int, version: int, offset: int, n: int) -> bytes:
        answer = core.readable(handle, version, offset)
        if isinstance(answer, Refused):
            raise ValueError(answer.reason)
        try:
            return self._node.store.read(handle, offset, min(n, answer - offset))
        except CorruptChunk as error:  # never pass corrupt bytes on: drop, report, refuse
            core.corrupt(handle)
            self._node.ctx.log.warning("%s; copy dropped, master told", error)
            raise ValueError(f"{self._node.ctx.name}: {error}; read another replica") from None
