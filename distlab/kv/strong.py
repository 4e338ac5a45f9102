"""The strongly consistent (强一致) KV service: KVStateMachine behind a replicated log.

This is the thin adapter that a Raft peer (``distlab.replicated.raft_peer.RaftPeer``) hosts.
The peer decides the order of commands with Raft and calls, on every node, in log order:

- ``apply(command) -> result`` for each committed command (a `Command` in the KV codec's
  wire form, ``distlab.kv.state_machine.CODEC``);
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
plain msgpack-able data (the peer sends results over RPC). It is hosted by
`distlab.kv.strong_node.StrongKVNode` (``Cluster.start(n, service="kv")``).
"""

from __future__ import annotations

from typing import Any

from distlab.core import WireError
from distlab.kv.state_machine import CODEC, Command, KVStateMachine

__all__ = ["KVService"]


class KVService:
    """The service a Raft peer applies committed commands to (see the module docstring).

    ``apply`` returns the state machine's `Applied` (the value a get read, "" for writes;
    ``duplicate``: a retry answered from the duplicate table) in the KV codec's wire form.
    A malformed command raises `distlab.core.WireError` -- on every replica alike, since
    they all apply the same bytes, so the peer answers the client `ApplyFailed`.
    """

    def __init__(self) -> None:
        self.machine = KVStateMachine()

    def apply(self, command: Any) -> Any:
        """Apply one committed command (a `Command` in the KV codec's wire form)."""
        parsed = CODEC.decode(command)
        if type(parsed) is not Command:
            raise WireError(f"not a KV command: {command!r:.80}")
        return CODEC.encode(self.machine.apply(parsed))

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
