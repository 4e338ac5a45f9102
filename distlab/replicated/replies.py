"""What ``Replicated.submit`` answers: typed replies, each saying what certainly did (not) happen.

What it is: the five outcomes of submitting a command to a Raft peer, as frozen dataclasses,
and `REPLY_CODEC`, the `distlab.core.MessageCodec` that carries them over RPC:

- `Applied(result, index, term)` -- committed at ``index`` in ``term`` and applied here;
  ``result`` is what the service's ``apply`` returned (plain data);
- `NotLeader(leader_hint)` -- refused, *definite*: this node is not the leader (try the hint);
- `LostLeadership(leader_hint, index, term)` -- *definite*: another entry was committed at
  the index the command was proposed at, so it never will be;
- `TimedOut(leader_hint)` -- *indefinite*: no answer in time; the entry may still commit
  (the history records ``info``; only a service that deduplicates may retry it blindly);
- `ApplyFailed(message, index, term)` -- committed, but the service's ``apply`` raised
  (deterministically: every replica saw the same error).

Every reply has ``ok`` (applied) and ``reason`` (a short word: "applied", "not_leader",
"lost_leadership", "timeout", "apply_error"); failures also say ``definite``. A client
dispatches with ``match reply: case Applied(): ...`` -- no string codes to parse.

What it must never do: hold behaviour beyond those read-only facts; replies are values.
Where it fits: `distlab.replicated.raft_peer` answers with them; `RaftClient` and the KV
`Clerk` decode them (`decode_reply`). `NotLeader` is the core's own answer to ``propose``
(`distlab.raft.NotLeader`), carried unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from distlab.core import MessageCodec, WireError
from distlab.raft import NodeId, NotLeader

__all__ = [
    "REPLY_CODEC",
    "Applied",
    "ApplyFailed",
    "LostLeadership",
    "NotLeader",
    "Reply",
    "TimedOut",
    "decode_reply",
]


@dataclass(frozen=True)
class Applied:
    """Committed at ``index`` in ``term`` and applied; ``result`` is the service's answer."""

    ok: ClassVar[bool] = True
    reason: ClassVar[str] = "applied"

    result: Any
    index: int
    term: int


@dataclass(frozen=True)
class LostLeadership:
    """Definite: another entry was committed at ``index``; this command never will be."""

    ok: ClassVar[bool] = False
    reason: ClassVar[str] = "lost_leadership"
    definite: ClassVar[bool] = True

    leader_hint: NodeId | None
    index: int
    term: int


@dataclass(frozen=True)
class TimedOut:
    """Indefinite: no outcome in time; the command may still be applied later."""

    ok: ClassVar[bool] = False
    reason: ClassVar[str] = "timeout"
    definite: ClassVar[bool] = False

    leader_hint: NodeId | None


@dataclass(frozen=True)
class ApplyFailed:
    """Committed, but the service's ``apply`` raised (on every replica alike)."""

    ok: ClassVar[bool] = False
    reason: ClassVar[str] = "apply_error"
    definite: ClassVar[bool] = True  # it was applied -- as an error -- and will not be again

    message: str
    index: int
    term: int


Reply = Applied | NotLeader | LostLeadership | TimedOut | ApplyFailed

REPLY_CODEC = MessageCodec((Applied, NotLeader, LostLeadership, TimedOut, ApplyFailed))
"""Replies <-> plain data, for the RPC layer."""


def decode_reply(data: Any) -> Reply:
    """A reply from its wire form; WireError (a ValueError) for anything else."""
    reply = REPLY_CODEC.decode(data)
    if not isinstance(reply, (Applied, NotLeader, LostLeadership, TimedOut, ApplyFailed)):
        raise WireError(f"expected a Replicated.submit reply, got {type(reply).__name__}")
    return reply
