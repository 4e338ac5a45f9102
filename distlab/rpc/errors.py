"""The failures an RPC call can end in, each saying whether the call certainly did not run.

What it is: the exception classes a caller catches. Every one derives from ``RpcError``
and carries ``definite``: True when the call certainly did not execute on the server
(refused, unknown method, bad arguments, a request the network dropped before it left),
False when it may have executed (a timeout, a connection lost after sending, an
exception raised by the handler itself). A history checker needs that distinction.

What it must never do: hide whether a call may have run. Where it fits: raised by
``distlab.rpc.client``; the reply error kinds on the wire map onto these classes
(see docs/WIRE_FORMAT.md).
"""

from __future__ import annotations


class RpcError(Exception):
    """Base of every RPC failure. ``definite`` is True when the call certainly did not run."""

    definite: bool = False

    def __init__(self, message: str, *, definite: bool | None = None) -> None:
        super().__init__(message)
        if definite is not None:
            self.definite = definite


class RpcTimeout(RpcError):
    """No reply within the timeout. The call may have run (the reply may have been lost)."""

    definite = False


class ConnectionLost(RpcError):
    """The connection broke (or could not be made). Definite only if nothing was sent."""

    definite = False


class AuthenticationError(ConnectionLost):
    """The HMAC challenge-response at connect failed: no call was ever served."""

    definite = True


class UnknownMethod(RpcError):
    """The server has no such service or method; nothing ran."""

    definite = True


class BadArguments(RpcError):
    """The arguments did not fit the method's signature; the handler never started."""

    definite = True


class BadRequest(RpcError):
    """The server could not understand the request frame; nothing ran."""

    definite = True


class SessionExpired(RpcError):
    """At-most-once: the server forgot this client's duplicate table, so it refused a
    request it cannot prove is new. The original attempt may have run."""

    definite = False


class Unauthorized(RpcError):
    """A control method (``Fault.set``, ``Node.set_peers``, ...) called on a connection that
    did not prove the cluster's control secret: refused, so it certainly did not run."""

    definite = True


class RemoteError(RpcError):
    """The handler raised: carries the remote exception's type name, message and traceback.

    Not definite: the handler ran, at least in part, before it raised.
    """

    definite = False

    def __init__(self, type_name: str, message: str, traceback_text: str = "") -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.remote_message = message
        self.traceback_text = traceback_text


# Wire error kinds (the first element of an error reply's value) -> exception class.
ERROR_KINDS: dict[str, type[RpcError]] = {
    "unknown_method": UnknownMethod,
    "bad_arguments": BadArguments,
    "bad_request": BadRequest,
    "session_expired": SessionExpired,
    "unauthorized": Unauthorized,
}


def error_from_wire(kind: str, type_name: str, message: str, traceback_text: str) -> RpcError:
    """Turn an error reply's fields into the exception the caller sees."""
    if kind == "remote":
        return RemoteError(type_name, message, traceback_text)
    cls = ERROR_KINDS.get(kind)
    if cls is None:
        return RpcError(f"server error of unknown kind {kind!r}: {message}", definite=False)
    return cls(message)
