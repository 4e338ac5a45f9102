"""What a RaftNode hands its driver: state to persist, messages to send, entries to apply.

What it is: the data types that cross the boundary between the pure core and a
driver (`Ready`, `HardState`, `Snapshot`, `PersistedState`, the apply-channel
items, and the answers to `propose`).
What it must never do: perform I/O itself; these are values.
Where it fits: `RaftNode.take_ready()` returns a `Ready`; a driver (the
simulator, the real-process node) must handle it in this order:

1. **persist** ``hard_state``, ``snapshot`` and the log change
   (``log_from``/``entries``) durably;
2. **send** ``messages``;
3. **apply** ``committed`` to the service, in order.

The order is the contract: a node's replies (a granted vote, a successful
AppendEntries) are only valid once its term, vote and log are durable (Figure 2
keeps them on stable storage before any reply). Sending before the write is
durable lets a crash break that promise: a restarted node could vote twice in
one term (Election Safety) or forget entries a leader counted as replicated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from distlab.core import Ready as CoreReady
from distlab.raft.messages import Envelope, LogEntry, NodeId


@dataclass(frozen=True, slots=True)
class HardState:
    """Figure 2's persistent scalars: the latest term seen and the vote cast in it."""

    current_term: int = 0
    voted_for: NodeId | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """§7: the service's state after applying every entry up to ``last_included_index``."""

    last_included_index: int
    last_included_term: int
    data: bytes


@dataclass(frozen=True, slots=True)
class PersistedState:
    """Everything a node finds on disk after a restart; pass it to ``RaftNode(persisted=...)``."""

    hard_state: HardState = HardState()
    snapshot: Snapshot | None = None
    entries: tuple[LogEntry, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandApplied:
    """Apply channel: the committed entry at ``index`` (delivered once, in index order)."""

    index: int
    term: int
    command: Any


@dataclass(frozen=True, slots=True)
class SnapshotApplied:
    """Apply channel: replace the service's state by this snapshot (installed or restored)."""

    index: int
    term: int
    data: bytes


@dataclass(frozen=True, slots=True)
class ReadReady:
    """Apply channel: the linearizable read ``request`` may be answered now (§6.4, ReadIndex).

    Every entry up to ``index`` -- the commit index when the read arrived -- sits before this
    item on the channel, and a majority confirmed this node still led after the read arrived;
    so the service's state at this point of the channel is at least as new as any write that
    completed before the read began. The driver answers from the service here, in order.
    """

    request: int
    index: int


@dataclass(frozen=True, slots=True)
class ReadRefused:
    """Apply channel: the read ``request`` cannot be answered here (a definite failure, and
    harmless: a read changes nothing); this node stopped leading, try ``leader_hint``."""

    request: int
    leader_hint: NodeId | None


ApplyMsg = CommandApplied | SnapshotApplied | ReadReady | ReadRefused


@dataclass(frozen=True)
class Ready(CoreReady):
    """One batch of a node's outputs; see the module docstring for the required order.

    Raft's shape of the core contract's `distlab.core.Ready`: ``messages`` to send and
    ``outputs`` -- here the apply channel, also readable as ``committed`` -- plus what to
    persist. Log change: after installing ``snapshot`` (drop persisted entries up to its
    index), replace every persisted entry with index >= ``log_from`` by ``entries``.
    ``log_from`` None means the log did not change.
    """

    hard_state: HardState | None = None
    log_from: int | None = None
    entries: list[LogEntry] = field(default_factory=list)
    snapshot: Snapshot | None = None

    @property
    def committed(self) -> list[ApplyMsg]:
        """The apply channel (6.824's name for ``outputs``): entries to apply, in order."""
        return self.outputs

    @classmethod
    def of(
        cls,
        hard_state: HardState | None,
        log_from: int | None,
        entries: list[LogEntry],
        snapshot: Snapshot | None,
        messages: list[Envelope],
        committed: list[ApplyMsg],
    ) -> Ready:
        """The same as ``Ready(...)`` with every field given, built faster.

        A frozen dataclass's ``__init__`` stores each field through
        ``object.__setattr__`` (it must get past the frozen ``__setattr__``), a
        slow call; `RaftNode.take_ready` builds one Ready per event, so it fills
        the new instance's ``__dict__`` in one step instead. The result is equal
        to ``Ready(...)`` with the same arguments, and just as frozen.
        """
        ready = object.__new__(cls)
        ready.__dict__.update(
            messages=messages,
            outputs=committed,
            hard_state=hard_state,
            log_from=log_from,
            entries=entries,
            snapshot=snapshot,
        )
        return ready

    @property
    def must_persist(self) -> bool:
        """True if the driver has anything to write before it may send."""
        return self.hard_state is not None or self.log_from is not None or self.snapshot is not None


@dataclass(frozen=True, slots=True)
class Proposed:
    """``propose`` accepted: the command sits at ``index`` of the leader's log in ``term``.

    It is not committed yet; it may still be lost if this leader fails.
    """

    index: int
    term: int


@dataclass(frozen=True, slots=True)
class NotLeader:
    """``propose`` refused (a definite failure): this node is not the leader; try the hint.

    Also what a real peer answers a client (`distlab.replicated.replies`), hence ``ok`` and
    ``reason`` like the other replies there.
    """

    ok: ClassVar[bool] = False
    reason: ClassVar[str] = "not_leader"

    leader_hint: NodeId | None
    definite: bool = True
