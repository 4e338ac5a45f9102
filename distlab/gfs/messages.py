"""GFS's vocabulary: its settings, the messages between master and chunkservers, and replies.

What it is: `GFSConfig` (chunk size, replica count, lease and timeout lengths in ticks;
`REAL_CONFIG` for real processes, `config_from_options` for ``Cluster.start`` options) and
frozen dataclasses, each named after one step of the paper (Ghemawat, Gobioff
and Leung, "The Google File System", SOSP 2003): a chunkserver's `Heartbeat` (§4.1: the
master learns where replicas are from the chunkservers, it does not store it), the master's
`Grant` of a lease with a new version number (§3.1, §4.5), the primary's `ApplyMutation` in
its serial order (§3.1), `CopyChunk` for re-replication (§4.3), and the replies a client
sees. One `CODEC` carries them over sockets and disks.
What it must never do: hold logic; the rules live in `master.py` and `chunkserver.py`.
Where it fits: shared by both cores, the simulator (`simulated.py`) and the node (`node.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from distlab.core import MessageCodec

__all__ = [
    "CODEC",
    "REAL_CONFIG",
    "ApplyMutation",
    "ChunkInstalled",
    "ChunkLocations",
    "ChunkReport",
    "CopyChunk",
    "DeleteChunk",
    "GFSConfig",
    "Grant",
    "GrantAck",
    "Heartbeat",
    "MutationAck",
    "MutationResult",
    "Refused",
    "ReportCorrupt",
    "Retry",
    "config_from_options",
]


@dataclass(frozen=True)
class GFSConfig:
    """The knobs of one GFS deployment, in bytes and in ticks (a tick is a unit of logical
    time: the simulator's virtual tick, ``tick_ms`` of wall time in a real node).

    The lease rule rests on one assumption, as every lease does: a message takes at most
    ``max_message_delay_ticks`` to arrive. The master therefore counts a lease as held for
    ``lease_ticks + max_message_delay_ticks`` from the moment it sends the grant, while the
    primary counts only ``lease_ticks`` from the moment it receives it, so the primary's
    lease always ends first.
    """

    chunk_size: int = 64 * 1024
    block_size: int = 4 * 1024  # one checksum per block (the paper: 64 KB blocks of 64 MB chunks)
    replicas: int = 3
    lease_ticks: int = 60
    max_message_delay_ticks: int = 10
    heartbeat_ticks: int = 5
    dead_after_ticks: int = 40  # a chunkserver not heard from for this long is down
    mutation_timeout_ticks: int = 20  # a primary gives up on a silent secondary
    gap_timeout_ticks: int = 10  # a secondary stops waiting for a missing serial number
    copy_timeout_ticks: int = 40
    checkpoint_every: int = 200  # operation-log records between master checkpoints

    def __post_init__(self) -> None:
        if self.chunk_size < 64 or self.chunk_size % self.block_size:
            raise ValueError("chunk_size must be at least 64 bytes and a multiple of block_size")
        if self.replicas < 1:
            raise ValueError(f"replicas must be at least 1, got {self.replicas}")
        ticks = ("lease_ticks", "heartbeat_ticks", "dead_after_ticks", "mutation_timeout_ticks",
                 "gap_timeout_ticks", "copy_timeout_ticks")  # fmt: skip
        for name in ticks:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1 tick, got {getattr(self, name)}")

    @property
    def max_record_size(self) -> int:
        """The paper's limit on a record append: a quarter of a chunk (so padding wastes at
        most a quarter of the space)."""
        return self.chunk_size // 4

    @property
    def master_lease_ticks(self) -> int:
        """How long the master treats a lease as held, counted from sending the grant."""
        return self.lease_ticks + self.max_message_delay_ticks + 1


REAL_CONFIG = GFSConfig(
    chunk_size=64 * 1024,
    block_size=4 * 1024,
    replicas=3,
    lease_ticks=100,  # 2 s at 20 ms a tick
    max_message_delay_ticks=25,
    heartbeat_ticks=5,
    dead_after_ticks=50,  # a chunkserver silent for 1 s is down
    mutation_timeout_ticks=50,
    gap_timeout_ticks=25,
    copy_timeout_ticks=150,
    checkpoint_every=200,
)
"""The real cluster's settings (20 ms ticks): 64 KiB chunks, 2-second leases."""

_CONFIG_FIELDS = {field.name for field in fields(GFSConfig)}


def config_from_options(options: dict[str, Any]) -> GFSConfig:
    """`REAL_CONFIG` with any of its fields given as node options (``chunk_size=...``)."""
    values = {name: getattr(REAL_CONFIG, name) for name in _CONFIG_FIELDS}
    values.update({k: v for k, v in options.items() if k in _CONFIG_FIELDS})
    return GFSConfig(**values)


# -- chunkserver -> master ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkReport:
    """One chunk a chunkserver holds: its handle, version number and length in bytes."""

    handle: int
    version: int
    length: int


@dataclass(frozen=True)
class Heartbeat:
    """A chunkserver's periodic message: I am alive, and these are my chunks (§4.1)."""

    chunks: tuple[ChunkReport, ...]


@dataclass(frozen=True)
class GrantAck:
    """The replica has made the new version durable (and, if named primary, holds the lease)."""

    handle: int
    version: int


@dataclass(frozen=True)
class ChunkInstalled:
    """A re-replicated copy is durable at this version."""

    handle: int
    version: int


@dataclass(frozen=True)
class ReportCorrupt:
    """A checksum failed on this chunkserver's copy of the chunk; it dropped its copy."""

    handle: int


# -- master -> chunkserver ---------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A new version number for a chunk, and who holds its lease (§3.1, §4.5). Only a
    replica at ``previous_version`` takes it. ``create``: the chunk is new, so a replica
    without it creates it empty."""

    handle: int
    version: int
    previous_version: int
    primary: str
    secondaries: tuple[str, ...]
    lease_ticks: int
    create: bool


@dataclass(frozen=True)
class DeleteChunk:
    """Drop your copy if its version is below ``below_version`` (a stale replica, §4.5)."""

    handle: int
    below_version: int


@dataclass(frozen=True)
class CopyChunk:
    """Re-replication (§4.3): fetch the chunk at ``version`` from ``source``."""

    handle: int
    version: int
    source: str


# -- primary <-> secondaries -------------------------------------------------------------------


@dataclass(frozen=True)
class ApplyMutation:
    """The primary's order (§3.1): apply mutation ``serial`` of this lease -- write the data
    pushed as ``data_id`` at ``offset`` (kind "write"), or pad from ``offset`` to the end of
    the chunk (kind "pad")."""

    handle: int
    version: int
    serial: int
    kind: str
    offset: int
    data_id: str


@dataclass(frozen=True)
class MutationAck:
    """A secondary's answer to `ApplyMutation` (``ok`` False: it could not apply it)."""

    handle: int
    version: int
    serial: int
    ok: bool
    reason: str


# -- answers to clients ------------------------------------------------------------------------


@dataclass(frozen=True)
class ChunkLocations:
    """Where chunk ``index`` of a file lives: its handle, version, up-to-date replicas, and,
    for a mutation, the primary (the lease holder) and the secondaries."""

    handle: int
    version: int
    replicas: tuple[str, ...]
    primary: str
    secondaries: tuple[str, ...]


@dataclass(frozen=True)
class Retry:
    """Not now (a lease is being granted, a replica is being copied...): ask again soon."""

    reason: str


@dataclass(frozen=True)
class Refused:
    """A definite no (no such file, record too large, stale replica...): it did not happen."""

    reason: str


@dataclass(frozen=True)
class MutationResult:
    """The primary's answer to a mutation: ``ok`` with the offset in the chunk, or
    ``chunk_full`` (the chunk was padded: append to the next one), or a failure (which may
    have left the record on some replicas: the client retries)."""

    request_id: str
    ok: bool
    offset: int
    chunk_full: bool
    reason: str


CODEC = MessageCodec(
    (
        ChunkReport, Heartbeat, GrantAck, ChunkInstalled, ReportCorrupt, Grant, DeleteChunk,
        CopyChunk, ApplyMutation, MutationAck, ChunkLocations, Retry, Refused, MutationResult,
    )
)  # fmt: skip
