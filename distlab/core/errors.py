"""The errors every system in distlab shares: a peer's bad message, a client's failed request.

What it is: `ProtocolError`, the base of every "a peer sent something that breaks the
protocol" error (`distlab.core.codec.WireError` among them); and `RequestFailed`, the base
of every error a client raises when its request failed, with ``definite``: True when the
request certainly did not take effect, False when it may have (or may yet) -- what the
checker needs to record it as ``fail`` or ``info``. `RequestTimeout` (no answer in time:
indefinite for a write) and `RequestRefused` (always definite) are its two usual kinds;
each system names its own (``ChainTimeout``, ``AuroraRefused``, ...) as subclasses.
What it must never do: stand for a bug of our own (those are assertions naming the
invariant) or for an expected failure inside a core such as "not the leader" (those are
values a core returns: typed replies, each saying whether it is definite).
Where it fits: a node program catches `ProtocolError` around everything that arrives from
the network, answers with a clear error and keeps serving; a client turns an answer it
did not get, or a refusal, into a `RequestFailed`.
"""

from __future__ import annotations

__all__ = ["ProtocolError", "RequestFailed", "RequestRefused", "RequestTimeout"]


class ProtocolError(ValueError):
    """A message from a peer broke the protocol (unknown type, wrong fields, bad values)."""


class RequestFailed(Exception):
    """A client's request failed. ``definite``: it certainly did not take effect."""

    definite: bool

    def __init__(self, message: str, *, definite: bool) -> None:
        super().__init__(message)
        self.definite = definite


class RequestTimeout(RequestFailed):
    """No answer in time. ``definite`` is False for a write: it may still take effect."""


class RequestRefused(RequestFailed):
    """The system refused the request: it definitely did not happen."""

    definite = True

    def __init__(self, message: str) -> None:
        super().__init__(message, definite=True)
