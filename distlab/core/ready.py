"""What every protocol core hands its driver: state to persist, messages to send, outputs.

What it is: `Ready`, the one output shape of every core in distlab (Raft, the weak replica,
the quorum replica, the MapReduce coordinator, and every chapter still to come), and the
`Core` protocol a driver relies on: ``tick()``, ``receive(sender, message)``,
``has_ready()``, ``take_ready()``.
What it must never do: perform I/O; a Ready is a value.
Where it fits: a driver (`distlab.sim.World` on a virtual clock, a node program in a real
process) takes each Ready and handles it in this order -- the contract:

1. **persist** what the core marks durable (``must_persist``; a core's own Ready subclass
   says what: Raft's term, vote and log, the weak replica's changed entries);
2. **send** ``messages`` (`Envelope`s);
3. hand ``outputs`` (applied commands, answers, events) to the service or the clients, in
   order.

Persist comes first because a core's messages promise things about its durable state (a
granted vote, an acknowledged write): sent before the write is durable, a crash in between
would break the promise. A crash loses whatever was not persisted -- in the simulator as in
a real process.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from distlab.core.envelope import Envelope
from distlab.core.ids import NodeId


@dataclass(frozen=True)
class Ready:
    """One batch of a core's outputs: persist (subclass fields), send ``messages``, ``outputs``.

    A core with nothing to persist uses this class as it is; a core with durable state
    subclasses it, adds the fields to persist, and overrides `must_persist`.
    """

    messages: list[Envelope] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)

    @property
    def must_persist(self) -> bool:
        """True if the driver has anything to write before it may send."""
        return False


class Core(Protocol):
    """What a driver needs of a protocol core: inputs in, one `Ready` out. No I/O, no clock."""

    node_id: NodeId

    def tick(self) -> None:
        """One unit of logical time (the driver decides how long a tick is)."""

    def receive(self, sender: NodeId, message: Any) -> None:
        """Handle one message from ``sender``."""

    def has_ready(self) -> bool:
        """True if `take_ready` would return anything (cheap: drivers poll it)."""
        ...

    def take_ready(self) -> Ready:
        """Everything to persist, send and output since the last call (then forget it)."""
        ...


class Storage(Protocol):
    """A node's durable state as a driver keeps it: what survives a crash.

    ``save(ready)`` makes the Ready's durable part durable (in the simulator: kept in memory
    beside the node, out of the crash's reach; in a process: written and fsync'ed);
    ``load()`` returns what a restarted core is built from.
    """

    def save(self, ready: Ready) -> None: ...

    def load(self) -> Any: ...
