"""The key-value state machine that a replicated log drives: put, get, append, exactly once.

Lecture 1's example service, and 6.824 lab 3's: a table of string keys and
string values with three operations. Every replica applies the same commands
in the same order (the order the replication protocol decides), so every
replica's table is the same.

Clients retry: a put whose reply was lost is sent again, and the log may then
hold it twice. The state machine therefore remembers, per client, the highest
sequence number it applied and that command's result (the *duplicate table*)
and answers a repeat from memory instead of applying it again. Because the
table is part of the state (and of every snapshot), it survives leader changes
and restarts — the at-most-once guarantee is replicated with the data.

What it must never do: read the clock, the network or the disk. It is pure;
drivers feed it committed commands. Rule for forgetting: a client issues one
command at a time (like lab 3's Clerk), so only its latest entry is kept; a
client that has gone silent costs one entry until it is evicted by
`forget_clients_except` (the store calls it with the clients seen recently).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import msgpack

from distlab.core import MessageCodec

OpKind = Literal["put", "get", "append"]
OPERATIONS: tuple[str, ...] = ("put", "get", "append")


@dataclass(frozen=True)
class Command:
    """One client request as it travels through the log.

    `seq` counts the client's requests from 1; a retry keeps the same `seq`.
    """

    client_id: str
    seq: int
    op: OpKind
    key: str
    value: str = ""

    def __post_init__(self) -> None:
        if self.op not in OPERATIONS:
            raise ValueError(f"unknown operation {self.op!r}; expected one of {OPERATIONS}")
        if self.seq < 1:
            raise ValueError(f"seq counts from 1, got {self.seq}")


@dataclass(frozen=True)
class Applied:
    """The outcome of applying one command: its result, and whether it was a repeat."""

    value: str
    duplicate: bool


CODEC = MessageCodec((Command, Applied))
"""Commands and their outcomes <-> plain data (the Raft log, the RPC layer and the weak store
carry KV commands in this form)."""


class KVStateMachine:
    """A deterministic table with a duplicate table; replicas that apply the same log agree."""

    def __init__(self) -> None:
        self.data: dict[str, str] = {}
        # client id -> (last applied seq, its result)
        self.last_applied: dict[str, tuple[int, str]] = {}
        self.applied_count = 0

    def apply(self, command: Command) -> Applied:
        """Apply `command` once; a repeat of an applied command returns the remembered result.

        A command older than the client's latest (a stale retry that arrives
        after the client moved on) is not applied either; its result is no
        longer known, and nobody is waiting for it.
        """
        seen = self.last_applied.get(command.client_id)
        if seen is not None and command.seq <= seen[0]:
            return Applied(seen[1] if command.seq == seen[0] else "", duplicate=True)
        if command.op == "put":
            self.data[command.key] = command.value
            result = ""
        elif command.op == "append":
            self.data[command.key] = self.data.get(command.key, "") + command.value
            result = ""
        else:  # get: a read through the log is linearizable because of where it sits in it
            result = self.data.get(command.key, "")
        self.last_applied[command.client_id] = (command.seq, result)
        self.applied_count += 1
        return Applied(result, duplicate=False)

    def forget_clients_except(self, active_clients: set[str]) -> int:
        """Drop duplicate-table entries of clients not in `active_clients`; returns how many.

        Safe only for clients that will never retry again (for example after a
        session expiry agreed through the log): a forgotten client's retry would
        be applied a second time.
        """
        gone = [client for client in self.last_applied if client not in active_clients]
        for client in gone:
            del self.last_applied[client]
        return len(gone)

    def snapshot(self) -> bytes:
        """The whole state, duplicate table included, as msgpack bytes."""
        table = {client: [seq, result] for client, (seq, result) in self.last_applied.items()}
        return msgpack.packb({"data": self.data, "last": table, "n": self.applied_count})

    @classmethod
    def restore(cls, snapshot: bytes) -> KVStateMachine:
        """Rebuild a state machine from `snapshot()` bytes (raises ValueError if malformed)."""
        try:
            state = msgpack.unpackb(snapshot, strict_map_key=True)
            if not (isinstance(state, dict) and isinstance(state.get("data"), dict)):
                raise ValueError("expected a map with a 'data' table")
            machine = cls()
            machine.data = {str(k): str(v) for k, v in state["data"].items()}
            machine.last_applied = {
                str(client): (int(seq), str(result))
                for client, (seq, result) in state["last"].items()
            }
            machine.applied_count = int(state["n"])
        except (ValueError, KeyError, TypeError, AttributeError, msgpack.UnpackException) as error:
            raise ValueError(f"not a KV snapshot: {error}") from error
        return machine
