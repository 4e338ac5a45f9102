"""The strongly consistent (强一致) KV service: KVStateMachine behind a replicated log.

This is the thin adapter that a Raft peer (``distlab.replicated.raft_peer.RaftPeer``) hosts.
The peer decides the order of commands with Raft and calls, on every node, in log order:

- ``apply(command) -> result`` for each committed command (a ``Command.to_wire()`` list);
- ``snapshot() -> bytes`` when it compacts its log, ``restore(data)`` when it installs one.

Every replica applies the same commands in the same order, so every replica holds the same
table *and the same duplicate table* — the at-most-once guarantee survives leader changes
and restarts because it is replicated with the data.

Reads go through the log too: a ``get`` is a command like any other, answered when it is
applied. That is the simplest way to make reads linearizable (线性一致性): the read takes
its place in the same total order as the writes, and no clock is trusted. It costs one
round of replication per read. The faster alternatives — *read index* (the leader confirms
it is still leader with a heartbeat round, then answers from its state once applied up to
its commit index) and *leases* (a leader answers locally while it holds a time lease, which
assumes bounded clock drift) — are left as exercises.

What it must never do: read the clock, the disk or the network, or return anything but
plain msgpack-able data (the peer sends results over RPC).
"""

from __future__ import annotations

from typing import Any

from distlab.kv.state_machine import Command, KVStateMachine

__all__ = ["KV_SERVICE", "KVService"]

# What ``Cluster.start(n, service="kv", consistency="strong")`` asks the Raft peer to host.
KV_SERVICE = "distlab.kv.strong:KVService"


class KVService:
    """The service a Raft peer applies committed commands to (see the module docstring).

    ``apply`` returns ``{"value": str, "duplicate": bool}`` — the value is what a get read
    ("" for writes); ``duplicate`` says the command was a retry answered from the duplicate
    table. A malformed command is answered ``{"error": ...}`` on every replica alike (it
    must not raise: the peer applies it deterministically everywhere).
    """

    def __init__(self) -> None:
        self.machine = KVStateMachine()

    def apply(self, command: Any) -> dict[str, Any]:
        """Apply one committed command (a ``Command.to_wire()`` list)."""
        try:
            parsed = Command.from_wire(list(command))
        except (TypeError, ValueError) as error:
            return {"error": f"malformed KV command {command!r}: {error}"}
        applied = self.machine.apply(parsed)
        return {"value": applied.value, "duplicate": applied.duplicate}

    def snapshot(self) -> bytes:
        """The whole state, duplicate table included."""
        return self.machine.snapshot()

    def restore(self, data: bytes) -> None:
        """Replace the state with a snapshot's."""
        self.machine = KVStateMachine.restore(bytes(data))

    def query(self, request: Any = None) -> Any:
        """A read of this replica's *local* table (``Replicated.query``): not linearizable —
        a follower may lag. ``None`` returns the whole table, a key string its value."""
        if request is None:
            return dict(self.machine.data)
        if isinstance(request, str):
            return self.machine.data.get(request, "")
        raise ValueError(f"KVService.query takes None or a key, not {request!r}")
