"""The GFS client library: open/create, read, write and record append against a real cluster.

What it is: `GFSClient`, what an application links with (paper §2.4, §3): it asks the master
(主节点) only *where* a chunk is -- and caches the answer -- then talks to chunkservers
(块服务器) directly. A mutation goes in two flows (§3.2): the data is pushed along a chain
of the replicas (副本), then the primary is asked to apply it; the primary picks the order
and, for a record append (记录追加), the offset. Any failure -- a dead replica, a lease that
ran out, a secondary that did not answer -- makes the client retry the whole mutation,
which is why a record can land twice, and why a retry after a failure leaves inconsistent
bytes on some replicas. `append_record` writes self-describing records and `read_records`
reads them back the way applications do: padding skipped, duplicates dropped.

Errors: `GFSError` with ``definite`` True when nothing happened (no such file, a record
larger than a quarter chunk, an offset past the end) and False when the client gave up
retrying a mutation that may have been applied on some replicas.
What it must never do: read data through the master, or hand a caller bytes from a replica
that is not at the chunk's current version. Where it fits: ``cluster.client()`` on a
``service="gfs"`` cluster returns one; the chapter, the tests and the benchmark use it.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from distlab.core import RequestFailed
from distlab.gfs.messages import (
    CODEC,
    ChunkLocations,
    MutationResult,
    Refused,
    Retry,
    config_from_options,
)
from distlab.gfs.records import Record, encode_record, read_unique

__all__ = ["AppendResult", "ClientStatistics", "GFSClient", "GFSError"]

_T = TypeVar("_T")


class GFSError(RequestFailed):
    """A GFS operation failed. ``definite``: it certainly did not happen."""


class _Again(Exception):
    """One attempt failed in a way worth retrying."""


@dataclass(frozen=True)
class AppendResult:
    """Where a record append landed: chunk ``chunk_index`` (handle ``handle``) at
    ``offset``, i.e. ``file_offset`` in the file; ``attempts`` it took."""

    chunk_index: int
    handle: int
    offset: int
    file_offset: int
    attempts: int


@dataclass(frozen=True)
class ClientStatistics:
    """What this client did: calls to the master and to chunkservers, bytes, retries."""

    master_calls: int
    chunkserver_calls: int
    bytes_read: int
    bytes_appended: int
    retries: int


class GFSClient:
    """A GFS client for a running cluster (``cluster.client()``); thread-safe."""

    def __init__(
        self,
        cluster: Any,
        *,
        name: str = "gfs-client",
        timeout_s: float = 30.0,
        cache_ttl_s: float = 2.0,
        seed: int | None = None,
    ) -> None:
        self.cluster = cluster
        self.name = name
        self.timeout_s = timeout_s
        self.cache_ttl_s = cache_ttl_s
        options = dict(getattr(cluster, "options", {}) or {})
        self.config = config_from_options(options)
        self.master = str(options.get("master", "n0"))
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._rpc: dict[str, tuple[Any, Any]] = {}
        self._cache: dict[tuple[str, int, bool], tuple[ChunkLocations, float]] = {}
        self._ids = itertools.count(1)
        self._token = os.urandom(4).hex()  # request ids unique across clients and runs
        self._counts = dict.fromkeys(
            ("master_calls", "chunkserver_calls", "bytes_read", "bytes_appended", "retries"), 0
        )

    # -- the namespace ----------------------------------------------------------------------

    def create(self, path: str) -> None:
        """Create an empty file (GFSError if it exists or the path is malformed)."""
        answer = self._retrying(f"create {path}", lambda: self._master_call("create", path))
        if isinstance(answer, Refused):
            raise GFSError(answer.reason, definite=True)

    def chunk_count(self, path: str) -> int:
        """How many chunks ``path`` has (GFSError: no such file)."""
        answer = self._retrying(f"stat {path}", lambda: self._master_call("chunk_count", path))
        if isinstance(answer, Refused):
            raise GFSError(answer.reason, definite=True)
        return int(answer)

    def file_length(self, path: str) -> int:
        """The file's length in bytes: full chunks, then the last chunk's length."""
        count = self.chunk_count(path)
        if count == 0:
            return 0
        last = self._retrying(
            f"length of {path}", lambda: self._on_a_replica(path, count - 1, "length", ())
        )
        return (count - 1) * self.config.chunk_size + int(last)

    # -- record append ----------------------------------------------------------------------

    def record_append(self, path: str, data: bytes) -> AppendResult:
        """Append ``data`` atomically at least once, at an offset GFS chooses (§3.3)."""
        data = bytes(data)
        if len(data) > self.config.max_record_size:
            raise GFSError(
                f"a record append is at most a quarter chunk ({self.config.max_record_size} "
                f"bytes); this record has {len(data)}",
                definite=True,
            )
        index = max(self.chunk_count(path) - 1, 0)
        attempts = 0
        deadline = time.monotonic() + self.timeout_s
        while True:
            attempts += 1
            try:
                locations = self._locate(path, index, for_mutation=True, allocate=True)
                result = self._mutate(locations, data, "append", ())
                if result.ok:
                    with self._lock:
                        self._counts["bytes_appended"] += len(data)
                    file_offset = index * self.config.chunk_size + result.offset
                    return AppendResult(
                        index, locations.handle, result.offset, file_offset, attempts
                    )
                if result.chunk_full:  # the chunk was padded: on to the next one (§3.3)
                    index += 1
                    continue
                raise _Again(result.reason)
            except _Again as error:
                self._forget(path, index)
                self._back_off(attempts, deadline, f"append to {path}", error)

    def append_record(self, path: str, record_id: str, payload: bytes) -> AppendResult:
        """`record_append` of a self-describing record (`encode_record`): what a reader can
        tell from padding, torn attempts and duplicates."""
        return self.record_append(path, encode_record(record_id, payload))

    def read_records(self, path: str) -> list[Record]:
        """Every record of the file, each id once, padding and broken pieces skipped (what
        an application reading a record-appended file does, §2.7.2)."""
        chunks = [self.read_chunk(path, index) for index in range(self.chunk_count(path))]
        return read_unique(chunks, self.config.chunk_size)

    # -- write and read ---------------------------------------------------------------------

    def write(self, path: str, offset: int, data: bytes) -> None:
        """Write ``data`` at ``offset`` (not past the end of the file); a write that spans
        chunks is one mutation per chunk, so concurrent writers may interleave (§2.7.1)."""
        data = bytes(data)
        length = self.file_length(path)
        if not 0 <= offset <= length:
            raise GFSError(
                f"offset {offset} is past the end of {path} ({length} bytes)", definite=True
            )
        size = self.config.chunk_size
        position = offset
        while position < offset + len(data):
            index, within = divmod(position, size)
            piece = data[position - offset : position - offset + size - within]
            self._write_piece(path, index, within, piece)
            position += len(piece)

    def _write_piece(self, path: str, index: int, within: int, piece: bytes) -> None:
        def attempt() -> None:
            try:
                locations = self._locate(path, index, for_mutation=True, allocate=True)
                result = self._mutate(locations, piece, "write", (within,))
                if not result.ok:
                    raise _Again(result.reason)
            except _Again:
                self._forget(path, index)
                raise

        self._retrying(f"write to {path}", attempt)

    def read(self, path: str, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``offset`` (GFSError if ``offset`` is past the end)."""
        length = self.file_length(path)
        if not 0 <= offset <= length or n < 0:
            raise GFSError(
                f"offset {offset} is past the end of {path} ({length} bytes)", definite=True
            )
        out = bytearray()
        position, end = offset, min(length, offset + n)
        while position < end:
            index, within = divmod(position, self.config.chunk_size)
            want = min(end - position, self.config.chunk_size - within)
            read_piece = partial(self._on_a_replica, path, index, "read", (within, want))
            piece = self._retrying(f"read {path}", read_piece)
            if not piece:
                break
            out += piece
            position += len(piece)
        with self._lock:
            self._counts["bytes_read"] += len(out)
        return bytes(out)

    def read_chunk(self, path: str, index: int) -> bytes:
        """All of chunk ``index`` from one up-to-date replica (locations from the cache: no
        master call while the cached answer is fresh)."""
        size = self.config.chunk_size
        data = self._retrying(
            f"read {path}", lambda: self._on_a_replica(path, index, "read", (0, size))
        )
        with self._lock:
            self._counts["bytes_read"] += len(data)
        return bytes(data)

    def replica_bytes(self, path: str) -> list[dict[str, bytes]]:
        """For each chunk, every up-to-date replica's bytes (to compare replicas:
        `distlab.gfs.classify_file`)."""
        chunks = []
        for index in range(self.chunk_count(path)):
            locate = partial(self._locate, path, index, for_mutation=False)
            locations: ChunkLocations = self._retrying(f"locate {path}", locate)
            replicas = {}
            for node in locations.replicas:
                version, data = self._call(node, "replica_bytes", locations.handle)
                if version == locations.version:
                    replicas[node] = bytes(data)
            chunks.append(replicas)
        return chunks

    def replica_at(self, node: str, handle: int) -> tuple[int, bytes]:
        """(version, bytes) of chunk ``handle`` at chunkserver ``node``, whatever its
        version -- to look at a replica, stale or not; never how data is read."""
        version, data = self._call(node, "replica_bytes", handle)
        return int(version), bytes(data)

    # -- the two flows of a mutation --------------------------------------------------------

    def _mutate(
        self, locations: ChunkLocations, data: bytes, kind: str, extra: tuple[Any, ...]
    ) -> MutationResult:
        number = next(self._ids)
        data_id = f"{self.name}-{self._token}-{number}"
        # 1. the data flow: along a chain of the replicas, starting at one of them (§3.2)
        chain = list(locations.replicas)
        self._call(chain[0], "push", data_id, data, chain[1:])
        # 2. the control flow: the primary orders it and forwards it to the secondaries
        request_id = f"{data_id}@{locations.handle}"
        args = (request_id, locations.handle, locations.version, *extra, data_id)
        answer = CODEC.decode(self._call(locations.primary, kind, *args, timeout=10.0))
        if not isinstance(answer, MutationResult):
            raise _Again(f"the primary answered {answer!r}")
        return answer

    # -- locating chunks --------------------------------------------------------------------

    def _locate(
        self, path: str, index: int, *, for_mutation: bool, allocate: bool = False
    ) -> ChunkLocations:
        key = (path, index, for_mutation)
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None and time.monotonic() < cached[1]:
            return cached[0]
        answer = self._master_call("lookup", path, index, for_mutation, allocate)
        if isinstance(answer, Refused):
            raise GFSError(answer.reason, definite=True)
        if isinstance(answer, Retry):
            raise _Again(answer.reason)
        assert isinstance(answer, ChunkLocations), answer
        with self._lock:
            self._cache[key] = (answer, time.monotonic() + self.cache_ttl_s)
        return answer

    def _forget(self, path: str, index: int) -> None:
        with self._lock:
            self._cache.pop((path, index, True), None)
            self._cache.pop((path, index, False), None)

    def _on_a_replica(self, path: str, index: int, method: str, extra: tuple[Any, ...]) -> Any:
        """Ask the replicas of a chunk in turn (from a random one: spreads the load) until
        one answers; a stale or corrupt replica refuses, and the next is asked."""
        locations = self._locate(path, index, for_mutation=False)
        replicas = list(locations.replicas)
        start = self._rng.randrange(len(replicas))
        errors = []
        for node in replicas[start:] + replicas[:start]:
            try:
                return self._call(node, method, locations.handle, locations.version, *extra)
            except _Again as error:
                errors.append(str(error))
        self._forget(path, index)
        raise _Again("; ".join(errors))

    # -- rpc --------------------------------------------------------------------------------

    def _master_call(self, method: str, *args: Any) -> Any:
        with self._lock:
            self._counts["master_calls"] += 1
        return CODEC.decode(self._rpc_call(self.master, f"GFS.{method}", args, 5.0))

    def _call(self, node: str, method: str, *args: Any, timeout: float = 5.0) -> Any:
        with self._lock:
            self._counts["chunkserver_calls"] += 1
        return self._rpc_call(node, f"GFS.{method}", args, timeout)

    def _rpc_call(self, node: str, method: str, args: tuple[Any, ...], timeout: float) -> Any:
        from distlab.rpc import RpcError

        try:
            address = self.cluster.address(node)
            with self._lock:
                known = self._rpc.get(node)
            if known is None or known[0] != address:  # first call, or the node restarted
                client = self.cluster.client(node, client_name=self.name)
                with self._lock:
                    self._rpc[node] = (address, client)
            else:
                client = known[1]
            return client.call(method, *args, timeout=timeout)
        except RpcError as error:  # refused, timed out, the node down: worth another try
            raise _Again(f"{node}: {error}") from None
        except Exception as error:  # the cluster does not know the node (never started)
            raise _Again(f"{node}: {error!r}") from None

    def _retrying(self, what: str, attempt: Callable[[], _T]) -> _T:
        deadline = time.monotonic() + self.timeout_s
        attempts = 0
        while True:
            attempts += 1
            try:
                return attempt()
            except _Again as error:
                self._back_off(attempts, deadline, what, error)

    def _back_off(self, attempts: int, deadline: float, what: str, error: Exception) -> None:
        with self._lock:
            self._counts["retries"] += 1
        if time.monotonic() >= deadline:
            raise GFSError(f"{what}: gave up after {attempts} attempts ({error})", definite=False)
        time.sleep(min(0.02 * 2 ** min(attempts, 4), 0.3) * (0.5 + self._rng.random()))

    # -- observing --------------------------------------------------------------------------

    def statistics(self) -> ClientStatistics:
        with self._lock:
            return ClientStatistics(**self._counts)

    def close(self) -> None:
        """The cluster closes the rpc clients it handed out."""
