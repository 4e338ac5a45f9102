"""The error a peer's bad message raises, everywhere in distlab.

What it is: `ProtocolError`, the base of every "a peer sent something that breaks the
protocol" error (`distlab.core.codec.WireError` among them).
What it must never do: stand for a bug of our own (those are assertions naming the
invariant) or for an expected failure such as "not the leader" (those are values a core
returns: typed replies, each saying whether it is definite).
Where it fits: a node program catches `ProtocolError` around everything that arrives from
the network, answers with a clear error and keeps serving.
"""

from __future__ import annotations


class ProtocolError(ValueError):
    """A message from a peer broke the protocol (unknown type, wrong fields, bad values)."""
