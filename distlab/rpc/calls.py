"""The client's protocol state, as plain data: request ids, calls in flight, deadlines,
what an outcome means, and whether to try again.

What it is: the *decisions* of an RPC client, kept apart from the sockets and threads that
carry them out (the h11 style: "sans-I/O"). ``Client.call`` and ``Client.call_async``
both drive this module, so the retry rule and the definite/indefinite bookkeeping exist
once. The pieces:

- ``RequestIds`` numbers requests; ``CallTable`` maps the ids in flight on one connection
  to their callers' slots (whatever the transport uses to wake a caller).
- Deadlines are numbers: ``deadline_s(now_s, timeout_s)``, and ``read_wait_s`` decides
  how long the socket's next receive may block. The caller reads the clock and passes
  the times in.
- ``outcome_of_reply(ok, value)`` turns a REPLY into the result or the ``RpcError``.
- ``Attempts`` is one logical call's retry state: after each failed attempt,
  ``after_failure(error)`` answers ``RETRY`` or ``GiveUp(error)``. The error in
  ``GiveUp`` is a *new* object when the verdict changed (an earlier attempt may have run,
  so a definite error is no longer definite); the caught one is never mutated, so an
  error object means the same thing wherever it is seen.

What it must never do: open a socket, start or block a thread, sleep, or read a clock.
Where it fits: under ``client.py`` (the I/O), over ``errors.py`` (the vocabulary).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Final

from distlab.rpc.errors import (
    AuthenticationError,
    ConnectionLost,
    RemoteError,
    RpcError,
    RpcTimeout,
    SessionExpired,
    error_from_wire,
)


# -- request ids and the calls in flight ----------------------------------------------
class RequestIds:
    """Request ids for one client: 1, 2, 3, ... (unique for the client's lifetime, so a
    late reply from an old connection can never be taken for a new call's)."""

    __slots__ = ("_counter", "last")

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        # The last id handed out, for statistics (requests made). Not locked: with
        # concurrent callers it may lag the highest id by a few for a moment.
        self.last = 0

    def next(self) -> int:
        # next() on itertools.count is one C call: atomic under the GIL, so callers on
        # several threads never get the same id without a lock.
        request_id = next(self._counter)
        self.last = request_id
        return request_id


class CallTable(dict):
    """The calls in flight on one connection: request id -> the caller's slot.

    A reply, a deadline and a broken connection may race for the same call; each ends it
    with ``take``, and exactly one of them gets the slot (the others get None). Every
    method is a single dict operation, atomic under the GIL, so the table needs no lock
    of its own. It *is* a dict (not a wrapper around one) so that ``len`` and truth
    tests, which the client's reader makes on every reply, stay single C calls.
    """

    __slots__ = ()

    def add(self, request_id: int, slot: Any) -> None:
        """Register a call before its request is sent (its reply may come at once)."""
        self[request_id] = slot

    def take(self, request_id: int) -> Any:
        """End the call ``request_id``: its slot, or None if something else ended it."""
        return self.pop(request_id, None)

    def holds(self, request_id: int, slot: Any) -> bool:
        """Is ``slot`` still waiting under ``request_id``?"""
        return self.get(request_id) is slot

    def take_any(self) -> Any:
        """End some call (any one) and return its slot, or None when none is left."""
        try:
            return self.popitem()[1]
        except KeyError:
            return None

    def slots(self) -> list[Any]:
        """A snapshot of the slots in flight."""
        return list(self.values())


# -- deadlines as numbers ---------------------------------------------------------------
def deadline_s(now_s: float, timeout_s: float) -> float:
    """The moment (on the caller's monotonic clock) a call started at ``now_s`` expires."""
    return now_s + timeout_s


READ_WAIT_S = 0.05  # the longest a reader blocks in one receive before looking around
DEADLINE_SLACK_S = 0.002  # how far past its deadline a caller may be woken


def read_wait_s(current_s: float, wait_s: float, deadline: bool) -> float | None:
    """The receive timeout to set before a reader's next receive, or None to keep
    ``current_s`` (setting it is a system call, so it changes only when it must).

    The reader may wait ``wait_s`` more seconds. One receive blocks at most
    ``READ_WAIT_S``, so a reader looks at its deadline and at its other work now and
    then. When ``deadline`` is a caller's (not a background reader's linger), it may be
    overshot by at most ``DEADLINE_SLACK_S``. A timeout far shorter than the wait (left
    by a caller near its deadline) is raised again, so readers do not wake in a spin.
    """
    wanted = wait_s if wait_s < READ_WAIT_S else READ_WAIT_S
    if deadline and current_s > wait_s + DEADLINE_SLACK_S:
        return wanted
    if current_s < wanted / 2:
        return wanted
    return None


# -- outcomes -------------------------------------------------------------------------
def outcome_of_reply(ok: bool, value: Any) -> Any:
    """The result a REPLY carries, or the RpcError it stands for (returned, not raised)."""
    return value if ok else error_from_wire(*value)


def timed_out(
    method: str,
    server_name: str,
    timeout_s: float,
    sent: bool,
    unsent_because: str = "the fault policy dropped the request",
) -> RpcTimeout:
    """The error of an attempt that got no reply in time.

    Definite only when the request never left (the fault policy dropped it, or no
    connection was made in time): then it cannot have run. Otherwise the request, or
    only the reply, may have been lost.
    """
    if not sent:
        return RpcTimeout(
            f"{method} to {server_name}: no reply in {timeout_s} s ({unsent_because}, "
            f"so it did not run)",
            definite=True,
        )
    return RpcTimeout(
        f"{method} to {server_name}: no reply in {timeout_s} s (it may have run)",
        definite=False,
    )


def connection_lost(reason: str, sent: bool) -> ConnectionLost:
    """The error of an attempt whose connection broke: definite only if nothing was sent."""
    return ConnectionLost(reason, definite=not sent)


def is_retriable(error: RpcError) -> bool:
    """May another attempt succeed where this one failed? Only when the network failed
    (a timeout, a broken connection); never for a refused authentication, nor for an
    answer the server gave (unknown method, bad arguments, the handler's exception)."""
    return isinstance(error, (RpcTimeout, ConnectionLost)) and not isinstance(
        error, AuthenticationError
    )


def maybe_ran(error: RpcError) -> RpcError:
    """``error``, or a new error of the same class saying the call may have run."""
    if not error.definite:
        return error
    if isinstance(error, RemoteError):  # never definite; kept for type checkers
        return error
    again = type(error)(f"{error} (an earlier attempt may have run)", definite=False)
    again.__cause__ = error
    return again


# -- retrying ---------------------------------------------------------------------------
class _Retry:
    """Send the call again (a fresh request id; the same session seq, if any)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "RETRY"


RETRY: Final = _Retry()


@dataclass(frozen=True)
class GiveUp:
    """The logical call failed with ``error``; ``renew_session`` asks the client to start
    a new at-most-once session (the server forgot the old one)."""

    error: RpcError
    renew_session: bool = False


class Attempts:
    """One logical call's attempts: how many retries are left, and whether any attempt
    may have run (then no later failure can be definite)."""

    __slots__ = ("maybe_ran", "retries_left")

    def __init__(self, retries: int) -> None:
        if retries < 0:
            raise ValueError(f"retries must be >= 0, got {retries}")
        self.retries_left = retries
        self.maybe_ran = False

    def after_failure(self, error: RpcError) -> _Retry | GiveUp:
        """What to do after an attempt failed with ``error``: RETRY or GiveUp."""
        self.maybe_ran = self.maybe_ran or not error.definite
        if self.retries_left > 0 and is_retriable(error):
            self.retries_left -= 1
            return RETRY
        return self.give_up(error)

    def give_up(self, error: RpcError) -> GiveUp:
        """Stop now (out of retries, or the client closed) with ``error``, made
        indefinite if an earlier attempt may have run."""
        self.maybe_ran = self.maybe_ran or not error.definite
        final = maybe_ran(error) if self.maybe_ran else error
        return GiveUp(final, renew_session=isinstance(error, SessionExpired))
