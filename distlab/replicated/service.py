"""The replicated state machine interface, and a tiny built-in one (an append-only list).

What it is: :class:`ReplicatedService`, the interface (接口) every service replicated by
Raft implements -- ``apply`` a committed command, take a ``snapshot``, ``restore`` one --
plus :class:`CommandList`, the default service (it remembers every command in order), and
:func:`load_service`, which turns ``"package.module:Class"`` into an instance.

What a service must never do: depend on anything but the commands it is given. Every
replica (副本) applies the same commands in the same order and must reach the same state,
so ``apply`` may not read the clock, a random number generator, the node's name or the
network. Commands arrive as msgpack plain data (lists, not tuples), and results travel back
to clients the same way.

Where it fits: :class:`distlab.replicated.raft_peer.RaftPeer` constructs the service named
by its ``service=`` option, applies committed entries to it in log order, asks it for a
snapshot every ``snapshot_every`` entries, and restores it from a snapshot after a restart
or an InstallSnapshot.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

import msgpack

__all__ = ["CommandList", "ReplicatedService", "load_service"]


@runtime_checkable
class ReplicatedService(Protocol):
    """What Raft replicates: a deterministic state machine.

    ``apply(command)`` runs one committed command and returns its result (plain data; the
    client that submitted the command receives it). ``snapshot()`` returns the whole state
    as bytes; ``restore(data)`` replaces the state by such bytes. A service may also offer
    ``query(request)``, a read of the *local* replica's state (not linearizable: a
    follower's state may lag), served as ``Replicated.query``.
    """

    def apply(self, command: Any) -> Any: ...

    def snapshot(self) -> bytes: ...

    def restore(self, data: bytes) -> None: ...


class CommandList:
    """The default service: an append-only list of every command applied.

    ``apply`` returns the list's new length (so the n-th command ever applied returns n);
    ``query(None)`` returns the list, ``query("length")`` its length. Handy for tests and
    benchmarks: two replicas agree exactly when their lists are equal.
    """

    def __init__(self) -> None:
        self.commands: list[Any] = []

    def apply(self, command: Any) -> int:
        self.commands.append(command)
        return len(self.commands)

    def snapshot(self) -> bytes:
        return msgpack.packb(self.commands, use_bin_type=True)

    def restore(self, data: bytes) -> None:
        self.commands = msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False)

    def query(self, request: Any = None) -> Any:
        if request == "length":
            return len(self.commands)
        if request is None:
            return list(self.commands)
        raise ValueError(f"CommandList.query understands None or 'length', not {request!r}")


def load_service(spec: str | type | None) -> ReplicatedService:
    """An instance of the service named by ``spec`` ("package.module:Class", a class, or None
    for :class:`CommandList`)."""
    if spec is None:
        return CommandList()
    cls: Any = spec
    if isinstance(spec, str):
        module_name, _, class_name = spec.partition(":")
        if not module_name or not class_name:
            raise ValueError(f"service {spec!r} must look like 'package.module:ClassName'")
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name, None)
        if cls is None:
            raise ValueError(f"service {spec!r}: module {module_name} has no {class_name!r}")
    if not isinstance(cls, type):
        raise TypeError(f"service must name a class, got {cls!r}")
    service = cls()
    if not isinstance(service, ReplicatedService):
        raise TypeError(
            f"{cls.__name__} is not a ReplicatedService: it needs apply(command), "
            "snapshot() -> bytes and restore(data)"
        )
    return service
