"""The messages of chain replication and CRAQ, and the codec they cross the network in.

What it is: frozen dataclasses, one per protocol step (van Renesse & Schneider, OSDI 2004;
Terrace & Freedman, USENIX ATC 2009), and `CODEC`, the one `distlab.core.MessageCodec` that
turns them into plain data for sockets (type-checked on the way in, never pickled).

Every message between chain nodes carries the sender's ``epoch`` (the number of the chain
configuration it believes in): a node rejects a message from an older epoch, which is how
a node the configuration manager has removed is fenced off.
What it must never do: hold logic. Where it fits: below `distlab.chain.core` (the chain
node) and `distlab.chain.manager` (the configuration manager).
"""

from __future__ import annotations

from dataclasses import dataclass

from distlab.core import MessageCodec

__all__ = [
    "CODEC",
    "Ack",
    "Behind",
    "Heartbeat",
    "NewConfig",
    "StateTransfer",
    "Update",
    "VersionQuery",
    "VersionReply",
]

#: A chain's members, head first: ``((node, incarnation, since), ...)``. The incarnation
#: tells a restarted node (which lost its memory) from the one the manager put in the chain;
#: ``since`` is the epoch this membership began, so a node removed and added again (cut off,
#: then back) knows it must drop what it held and take a state transfer.
Members = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Update:
    """A write travelling down the chain: version ``seq`` of ``key`` is ``value``.

    ``seq`` is the head's sequence number: every node applies updates in ``seq`` order,
    so each node's updates are a prefix of its predecessor's. ``op`` names the client's
    request at the head that assigned the number (the head answers it on commit)."""

    epoch: int
    seq: int
    key: str
    value: str
    op: str


@dataclass(frozen=True)
class Ack:
    """Travelling up the chain from the tail: every update up to ``seq`` is committed
    (the tail holds it, so every node before it does too); a node may clean those
    versions and drop them from its pending list."""

    epoch: int
    seq: int


@dataclass(frozen=True)
class Behind:
    """To the predecessor: "I hold updates up to ``applied``" (``synced`` False: I have no
    state yet, send me a `StateTransfer`)."""

    epoch: int
    applied: int
    synced: bool


@dataclass(frozen=True)
class StateTransfer:
    """To a new tail: the committed state up to ``seq``, as ``(key, version, value)``."""

    epoch: int
    seq: int
    items: tuple[tuple[str, int, str], ...]


@dataclass(frozen=True)
class VersionQuery:
    """CRAQ: a node with a dirty version of ``key`` asks the tail which version is committed."""

    epoch: int
    query: int
    key: str


@dataclass(frozen=True)
class VersionReply:
    """The tail's answer: version ``seq`` of ``key`` is the latest committed one."""

    epoch: int
    query: int
    key: str
    seq: int


@dataclass(frozen=True)
class Heartbeat:
    """A chain node to the configuration manager (or, with no manager, to every member):
    alive, in ``epoch``, this ``incarnation``, ``synced`` (holds the chain's state), sent
    at the sender's tick ``sent_at`` (the start of the lease the answer grants)."""

    epoch: int
    incarnation: int
    synced: bool
    sent_at: int


@dataclass(frozen=True)
class NewConfig:
    """The chain configuration ``epoch``: its ``members``, head first. From the manager in
    answer to a `Heartbeat` (``sent_at`` echoes it: a lease from then) or on a change
    (``sent_at`` -1: no lease)."""

    epoch: int
    members: Members
    sent_at: int


CODEC = MessageCodec(
    (Update, Ack, Behind, StateTransfer, VersionQuery, VersionReply, Heartbeat, NewConfig)
)
