"""The messages of Aurora's quorum storage, and the codec they cross the network in.

What it is: frozen dataclasses, one per protocol step (Verbitski et al., SIGMOD 2017), and
`CODEC`, the one `distlab.core.MessageCodec` that turns them into plain data for sockets
and disks (type-checked on the way in, never pickled).

Every message carries the writer's ``epoch`` (a new writer after a crash counts one up).
The writer's messages also carry its ``truncations``: one ``(epoch, point)`` per recovery,
"in epoch ``epoch`` the log was cut at ``point``". A storage node drops every record that a
truncation made invalid (written in an older epoch, above the point): the paper's durable
truncation ranges, which keep a half-written transaction from coming back.
What it must never do: hold logic. Where it fits: below `distlab.aurora.core`.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.core import MessageCodec

__all__ = [
    "CODEC",
    "Append",
    "Durable",
    "Fetch",
    "Fetched",
    "GossipAsk",
    "GossipGive",
    "LogRecord",
    "PageValue",
    "ReadPage",
    "RecoveryInfo",
    "RecoveryQuery",
]


@dataclass(frozen=True)
class LogRecord:
    """One redo log record (重做日志): ``page`` becomes ``value`` at log sequence number ``lsn``.

    A transaction is a run of records with consecutive LSNs; its last one has ``last``
    True (the paper's consistency point, CPL): a storage node never treats a transaction
    as complete before it holds every record up to that one. ``epoch`` is the writer's
    epoch that wrote it; ``txn`` names the transaction (for the checker)."""

    lsn: int
    epoch: int
    txn: str
    page: str
    value: str
    last: bool


@dataclass(frozen=True)
class Append:
    """Writer to storage node: make these ``records`` durable. ``vdl`` is the writer's
    volume durable LSN (every transaction up to it is on a write quorum). ``pages`` (page
    shipping only) carries full page images: ``((page, size_in_bytes), ...)``. An empty
    Append is the writer's heartbeat."""

    epoch: int
    truncations: tuple[tuple[int, int], ...]
    vdl: int
    records: tuple[LogRecord, ...]
    pages: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Durable:
    """Storage node to writer: "I hold every record up to ``scl``" (segment complete LSN)."""

    epoch: int
    scl: int


@dataclass(frozen=True)
class GossipAsk:
    """Storage node to a peer: "I hold everything up to ``scl``; send me what follows"."""

    epoch: int
    scl: int


@dataclass(frozen=True)
class GossipGive:
    """A peer's answer: records the asker misses (a bounded batch)."""

    epoch: int
    records: tuple[LogRecord, ...]


@dataclass(frozen=True)
class ReadPage:
    """Writer to storage node: ``page`` as of LSN ``as_of`` (-1: as of your own ``scl``)."""

    epoch: int
    read: int
    page: str
    as_of: int


@dataclass(frozen=True)
class PageValue:
    """The answer: ``value`` written at ``lsn`` (0: never written), by a node whose
    ``scl`` it was; ``ok`` False when the node does not yet hold everything up to as_of."""

    epoch: int
    read: int
    page: str
    value: str
    lsn: int
    scl: int
    ok: bool


@dataclass(frozen=True)
class RecoveryQuery:
    """A new writer (epoch ``epoch``) asks every storage node for its log's shape, after
    applying the ``truncations`` of earlier recoveries."""

    epoch: int
    truncations: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class RecoveryInfo:
    """Storage node to the new writer: its ``scl`` and the last transaction end at or
    below it (``cpl``, the paper's consistency point)."""

    epoch: int
    scl: int
    cpl: int


@dataclass(frozen=True)
class Fetch:
    """New writer to one storage node: send me records ``lo < lsn <= hi``."""

    epoch: int
    lo: int
    hi: int


@dataclass(frozen=True)
class Fetched:
    """The records asked for (all of them, in LSN order)."""

    epoch: int
    lo: int
    hi: int
    records: tuple[LogRecord, ...]


CODEC = MessageCodec(
    (
        LogRecord,
        Append,
        Durable,
        GossipAsk,
        GossipGive,
        ReadPage,
        PageValue,
        RecoveryQuery,
        RecoveryInfo,
        Fetch,
        Fetched,
    )
)
