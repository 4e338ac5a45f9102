"""How one attempt of a KV operation goes, per consistency mode: the Clerk's routes.

What it is: `Route` and its three kinds -- `StrongRoute` (``Replicated.submit`` to the
leader, typed replies), `WeakRoute` (``WeakKV.execute`` at one replica), `QuorumRoute`
(the client coordinates N replicas; ABD's decision is `distlab.kv.quorum.plan_after_read`)
-- and the two ways an attempt fails: `Refused` (certainly not applied) and `MaybeApplied`
(it may have been). `ROUTES` maps each ``consistency`` name to its route.
What it must never do: retry, wait between attempts or record history; the Clerk's one
retry loop (`distlab.kv.clerk`) does that for every route alike.
Where it fits: under `distlab.kv.clerk.Clerk`, over `distlab.rpc`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from distlab.core import WireError
from distlab.kv.quorum import CODEC as QUORUM_CODEC
from distlab.kv.quorum import Stamped, plan_after_read
from distlab.kv.state_machine import CODEC, Applied, Command
from distlab.replicated.replies import Applied as Committed
from distlab.replicated.replies import (
    ApplyFailed,
    LostLeadership,
    NotLeader,
    TimedOut,
    decode_reply,
)
from distlab.rpc import Client, RemoteError, RpcError

if TYPE_CHECKING:
    from distlab.kv.clerk import Clerk

__all__ = [
    "ROUTES",
    "MaybeApplied",
    "QuorumRoute",
    "Refused",
    "Route",
    "StrongRoute",
    "WeakRoute",
]


class Refused(Exception):
    """One attempt certainly not applied (not the leader, lost leadership, refused)."""

    def __init__(self, reason: str, leader: str | None = None) -> None:
        super().__init__(reason)
        self.leader = leader


class MaybeApplied(Exception):
    """One attempt that may have been applied (timeout, lost reply)."""

    def __init__(self, reason: str, leader: str | None = None) -> None:
        super().__init__(reason)
        self.leader = leader


class Route:
    """How one attempt at one server goes, for one consistency mode (see the module docstring).

    ``attempt`` returns the operation's result or raises `Refused` (certainly not applied)
    or `MaybeApplied` (may have been applied); ``start`` is called once per operation (before its
    first attempt); ``follows_leader_hints`` says whether a refusal's leader hint is worth
    following.
    """

    name: str = ""
    follows_leader_hints = False

    def start(self, clerk: Clerk, command: Command) -> None:
        """A new operation begins."""

    def attempt(self, clerk: Clerk, server: str, command: Command, timeout_s: float) -> str:
        raise NotImplementedError


def _value_of(result: Any) -> str:
    """The value in a KV service's answer (an `Applied` in the KV codec)."""
    try:
        applied = CODEC.decode(result)
    except WireError as error:
        raise MaybeApplied(f"unexpected answer {result!r:.60} ({error})") from None
    if type(applied) is not Applied:
        raise MaybeApplied(f"unexpected answer {result!r:.60}")
    return applied.value


def _call(client: Client, method: str, *args: Any, timeout: float) -> Any:
    """One rpc call, its failure sorted into definite (`Refused`) or not (`MaybeApplied`)."""
    try:
        return client.call(method, *args, timeout=timeout)
    except RemoteError as error:
        raise MaybeApplied(f"the server raised {error}") from None
    except RpcError as error:
        raise (Refused(str(error)) if error.definite else MaybeApplied(str(error))) from None


class StrongRoute(Route):
    """``Replicated.submit`` to the leader we believe in; typed replies say what happened."""

    name = "strong"
    follows_leader_hints = True

    def __init__(self) -> None:
        self._reader: str | None = None  # where a follower read goes first

    def start(self, clerk: Clerk, command: Command) -> None:
        # Follower reads: the first attempt of a get goes to any node (a seeded choice), which
        # spreads the reads over the cluster; retries follow the Clerk's usual choice.
        follower_read = command.op == "get" and clerk.reads == "follower"
        self._reader = clerk._rng.choice(clerk._names) if follower_read else None

    def attempt(self, clerk: Clerk, server: str, command: Command, timeout_s: float) -> str:
        # The server waits up to `timeout_s` for the entry to be applied (or the read to be
        # confirmed); our rpc timeout leaves it a little more, so its answer usually wins.
        if command.op == "get" and clerk.reads != "log":
            args: tuple[Any, ...] = (command.key, timeout_s)
            if self._reader is not None:
                server, self._reader = self._reader, None
            if clerk.reads == "follower":
                args += (True,)  # follower_ok
            raw = _call(clerk._client(server), "Replicated.read", *args, timeout=timeout_s + 0.5)
            return self._value(raw, read=True)
        raw = _call(
            clerk._client(server),
            "Replicated.submit",
            CODEC.encode(command),
            timeout_s,
            timeout=timeout_s + 0.5,
        )
        return self._value(raw, read=False)

    @staticmethod
    def _value(raw: Any, *, read: bool) -> str:
        """The value in a typed reply, or the refusal it means (see `Refused`)."""
        try:
            reply = decode_reply(raw)
        except WireError as error:
            raise MaybeApplied(f"unexpected reply ({error})") from None
        match reply:
            case Committed(result=result) if read:
                if type(result) is not str:
                    raise MaybeApplied(f"unexpected read answer {result!r:.60}")
                return result
            case Committed(result=result):
                return _value_of(result)
            case NotLeader(leader_hint=leader):
                raise Refused("not the leader", leader)
            case LostLeadership(leader_hint=leader):
                # Another entry was committed at our entry's index: ours never will be.
                raise Refused("lost leadership before the entry committed", leader)
            case TimedOut(leader_hint=leader):
                raise MaybeApplied("timed out; the entry may still commit", leader)
            case ApplyFailed(message=message):
                raise ValueError(f"the service failed to apply the command: {message}")
        raise AssertionError(f"unhandled reply {reply!r}")  # every Reply type is matched


class WeakRoute(Route):
    """``WeakKV.execute`` at one sticky replica, which answers from its own copy."""

    name = "weak"

    def attempt(self, clerk: Clerk, server: str, command: Command, timeout_s: float) -> str:
        raw = _call(
            clerk._client(server), "WeakKV.execute", CODEC.encode(command), timeout=timeout_s
        )
        return _value_of(raw)


class QuorumRoute(Route):
    """The Clerk coordinates N replicas (ABD; decisions in `distlab.kv.quorum`)."""

    name = "quorum"

    def __init__(self) -> None:
        self._planned: Stamped | None = None  # the write this operation decided on
        self._result = ""
        self._lamport = 0  # the highest stamp counter this clerk has seen

    def start(self, clerk: Clerk, command: Command) -> None:
        self._planned = None

    def attempt(self, clerk: Clerk, server: str, command: Command, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        names = clerk._names
        start = names.index(server)
        order = names[start:] + names[:start]
        if self._planned is None:
            answers, _ = clerk._gather(order, "QuorumKV.read", [command.key], clerk.r, deadline)
            if len(answers) < clerk.r:
                raise Refused(f"only {len(answers)} of r={clerk.r} replicas answered a read")
            try:
                stamped = [QUORUM_CODEC.decode(answer) for answer in answers]
            except WireError as error:
                raise MaybeApplied(f"a replica answered nonsense ({error})") from None
            plan = plan_after_read(
                command,
                stamped,
                lamport=self._lamport,
                writer=clerk.client_id,
                write_back=clerk.quorums_intersect,
            )
            self._lamport = plan.lamport
            self._result = plan.result
            if plan.write is None:
                return plan.result
            self._planned = plan.write
        # Writes go to every replica; w acknowledgements are enough.
        acks, maybe = clerk._gather(
            order,
            "QuorumKV.write",
            [command.key, QUORUM_CODEC.encode(self._planned)],
            clerk.w,
            deadline,
            send_all=True,
        )
        if len(acks) < clerk.w:
            reason = f"only {len(acks)} of w={clerk.w} replicas acknowledged the write"
            raise MaybeApplied(reason) if maybe or acks else Refused(reason)
        return self._result


ROUTES: dict[str, type[Route]] = {"strong": StrongRoute, "weak": WeakRoute, "quorum": QuorumRoute}
"""The route of each consistency mode."""
