"""The messages of primary-backup replication, and the one codec they cross the wire with.

What it is: frozen dataclasses, one per protocol step, between the two replicas (主/备
primary/backup) over the logging channel, and between a replica and the arbiter (the
shared disk's test-and-set), plus the outputs a replica hands its driver (`Reply`,
`Executed`, `Replayed`, `WentLive`, `Stopped`).
What it must never do: hold behaviour; the replica and the arbiter hold the rules.
Where it fits: under `distlab.primary_backup.replica` and `distlab.primary_backup.arbiter`.
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.core import MessageCodec
from distlab.primary_backup.machine import LogEntry

__all__ = [
    "CODEC",
    "Executed",
    "Join",
    "LogAck",
    "LogEntries",
    "Replayed",
    "Reply",
    "Reset",
    "ResetReply",
    "Snapshot",
    "Stopped",
    "TestAndSet",
    "TestAndSetReply",
    "WentLive",
]

# -- the logging channel (primary <-> backup) ---------------------------------------------


@dataclass(frozen=True)
class LogEntries:
    """Primary -> backup: log entries in order (none: a heartbeat). ``epoch`` names the
    pairing (it grows each time a new backup joins), so a stale primary's entries are
    ignored."""

    epoch: int
    entries: tuple[LogEntry, ...]


@dataclass(frozen=True)
class LogAck:
    """Backup -> primary: "I hold every entry up to ``index``" (held, not yet replayed:
    the backup replays behind)."""

    epoch: int
    index: int


@dataclass(frozen=True)
class Join:
    """A restarted or halted replica -> the live one: clone me."""

    epoch: int


@dataclass(frozen=True)
class Snapshot:
    """Live replica -> joiner: its whole machine at log ``index`` (state transfer once)."""

    epoch: int
    index: int
    instructions: int
    memory: tuple[tuple[str, str], ...]


# -- the arbiter (the shared disk's test-and-set) -----------------------------------------


@dataclass(frozen=True)
class TestAndSet:
    """Replica -> arbiter: may ``candidate`` go live for pairing ``epoch``? The first asker
    of an epoch wins; everyone after it loses (测试并设置 test-and-set)."""

    __test__ = False  # not a pytest test class, despite its name

    epoch: int
    candidate: str


@dataclass(frozen=True)
class TestAndSetReply:
    """Arbiter -> replica: the answer to `TestAndSet` of ``epoch`` (echoed), and the
    arbiter's own epoch and flag holder."""

    __test__ = False

    epoch: int
    candidate: str
    granted: bool
    holder: str
    arbiter_epoch: int


@dataclass(frozen=True)
class Reset:
    """Holder -> arbiter: a new backup is in sync; clear the flag and start epoch+1."""

    epoch: int
    holder: str


@dataclass(frozen=True)
class ResetReply:
    epoch: int  # the new epoch (unchanged if the reset was refused)
    done: bool


CODEC = MessageCodec(
    (
        LogEntry,
        LogEntries,
        LogAck,
        Join,
        Snapshot,
        TestAndSet,
        TestAndSetReply,
        Reset,
        ResetReply,
    )
)

# -- outputs to the driver --------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """An output to a client: ``output`` of request (client, seq), logged at ``index``.
    ``resent`` marks a reply a new primary sends again after failover (the old primary
    may have sent it already: the client drops it by its seq)."""

    client: str
    seq: int
    op: str
    output: str
    index: int
    resent: bool = False


@dataclass(frozen=True)
class Executed:
    """The primary ran log entry ``index``; its machine's digest afterwards."""

    index: int
    digest: str


@dataclass(frozen=True)
class Replayed:
    """The backup replayed log entry ``index``; its machine's digest afterwards."""

    index: int
    digest: str


@dataclass(frozen=True)
class WentLive:
    epoch: int
    alone: bool  # True: it won the test-and-set (or skipped it)


@dataclass(frozen=True)
class Stopped:
    reason: str
