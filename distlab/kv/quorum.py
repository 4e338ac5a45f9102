"""The quorum protocol's decisions (ABD), pure: what to write after a read quorum answered.

What it is: `Stamped` (a value with its stamp: Lamport counter, then writer id) and
`plan_after_read`, the one decision of the quorum store's client protocol (Attiya, Bar-Noy
and Dolev's algorithm, as Dynamo-style stores use it):

1. ask R replicas for the key; keep the answer with the highest stamp;
2. a ``put``/``append`` writes a new value under a new, higher stamp; a ``get`` answers the
   value it read -- but first writes it back (same stamp) when R + W > N, so no later read
   can return an older value (that write-back is what makes reads linearizable, not only
   fresh);
3. the write goes to every replica; W acknowledgements complete it.

What it must never do: touch the network, a clock or randomness; `distlab.kv.clerk` sends
the calls and gathers the answers, this module only decides.
Where it fits: under the Clerk's quorum route; `distlab.kv.quorum_node` is the replica
(it stores a `Stamped` per key, newer stamps win).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from distlab.core import MessageCodec
from distlab.kv.state_machine import Command

__all__ = ["CODEC", "NEVER_WRITTEN", "Plan", "Stamped", "plan_after_read", "quorums_intersect"]


@dataclass(frozen=True, order=True)
class Stamped:
    """A value and its stamp; stamps order by (counter, writer), so they are unique."""

    counter: int
    writer: str
    value: str


NEVER_WRITTEN = Stamped(0, "", "")

CODEC = MessageCodec((Stamped,))
"""`Stamped` <-> plain data, for the replicas' ``QuorumKV.read`` answers."""


def quorums_intersect(n: int, r: int, w: int) -> bool:
    """Does every read quorum of ``r`` replicas meet every write quorum of ``w``, out of ``n``?

    Only if ``r + w > n`` (pigeonhole). ``r`` is the *reader's* and ``w`` the *writers'*: a
    read is guaranteed to see a completed write only when the two sides' sizes add up.
    """
    return r + w > n


@dataclass(frozen=True)
class Plan:
    """What one operation does after its read quorum: ``write`` (None: nothing), the
    ``result`` to answer once that write has W acknowledgements, and the client's Lamport
    counter from now on."""

    write: Stamped | None
    result: str
    lamport: int


def plan_after_read(
    command: Command,
    answers: Iterable[Stamped],
    *,
    lamport: int,
    writer: str,
    write_back: bool,
) -> Plan:
    """Step 2 of the module docstring. ``write_back``: R + W > N (reads write back)."""
    newest = max(answers, default=NEVER_WRITTEN)
    lamport = max(lamport, newest.counter)
    if command.op == "get":
        if newest.counter == 0 or not write_back:
            return Plan(None, newest.value, lamport)
        return Plan(newest, newest.value, lamport)  # write back what we read, same stamp
    lamport += 1
    value = command.value if command.op == "put" else newest.value + command.value
    return Plan(Stamped(lamport, writer, value), "", lamport)
