"""NodeProgram and NodeContext: what runs inside one node process, and what it is given.

A node program is a class. The cluster constructs it once per node *inside the node process*
with a :class:`NodeContext`, registers the objects from ``services()`` on the node's rpc Server,
shows ``status()`` in ``Cluster.status()``, and calls ``close()`` on a graceful stop (a crash
calls nothing: that is the point of a crash). In the controller's process, the class's
``client_for(cluster)`` makes what ``cluster.client()`` returns: a system's own client.

This module must never start processes or sockets itself; the node runtime
(:mod:`distlab.cluster.node`) does that and hands the program a context.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, ClassVar

__all__ = ["Address", "NodeContext", "NodeProgram"]

Address = tuple[str, int]


class NodeContext:
    """Everything a node program may use: its name, peers, disk, log, network.

    Attributes:
        name: this node's name, e.g. ``"n1"``.
        peers: ``{name: (host, port)}`` of every *other* node (kept up to date on restarts).
        address: this node's own rpc address.
        data_dir: a directory that survives crashes and restarts (its non-volatile storage).
        log: a ``logging.Logger`` writing to this node's log file (nodes never print).
        policy: the rpc FaultPolicy this node's Server and Clients apply.
        seed: a per-node seed derived from the cluster's seed; derive each random stream
            from it with ``distlab.core.derive_seed(ctx.seed, "what-for")``.
        options: extra keyword options given to ``Cluster.start``.
    """

    def __init__(
        self,
        *,
        name: str,
        address: Address,
        peers: dict[str, Address],
        data_dir: Path,
        log: logging.Logger,
        policy: Any = None,
        secret: str | None = None,
        seed: int = 0,
        options: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.address = address
        self.data_dir = data_dir
        self.log = log
        self.policy = policy
        self.seed = seed
        self.options = dict(options or {})
        self._secret = secret
        self._lock = threading.Lock()
        self._peers: dict[str, Address] = {
            peer: (str(addr[0]), int(addr[1])) for peer, addr in peers.items() if peer != name
        }
        self._clients: dict[str, Any] = {}

    @property
    def peers(self) -> dict[str, Address]:
        """``{name: (host, port)}`` of the other nodes."""
        with self._lock:
            return dict(self._peers)

    def client(self, peer: str) -> Any:
        """An rpc Client to ``peer`` (cached), named after this node and under its policy."""
        client = self._clients.get(peer)  # the common case, without the lock (one dict read)
        if client is not None:
            return client
        from distlab.rpc import Client  # the rpc layer sits below us; imported when used

        with self._lock:
            if peer not in self._peers:
                known = ", ".join(sorted(self._peers)) or "none"
                raise KeyError(f"{self.name} has no peer named {peer!r} (peers: {known})")
            client = self._clients.get(peer)
            if client is None:
                client = Client(
                    self._peers[peer], name=self.name, secret=self._secret, policy=self.policy
                )
                self._clients[peer] = client
            return client

    def update_peers(self, peers: dict[str, Address]) -> None:
        """Learn new peer addresses (a restarted peer may have a new port)."""
        stale = []
        with self._lock:
            for peer, address in peers.items():
                if peer == self.name:
                    continue
                address = (str(address[0]), int(address[1]))
                if self._peers.get(peer) != address:
                    self._peers[peer] = address
                    if peer in self._clients:
                        stale.append(self._clients.pop(peer))
        for client in stale:
            client.close()

    def close(self) -> None:
        """Close the cached peer clients."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            client.close()


class NodeProgram:
    """Base class for the code a node runs. Subclass it; override what you need.

    >>> class Echo(NodeProgram):
    ...     def services(self):
    ...         return [self]
    ...     def echo(self, text):          # becomes the RPC "Echo.echo"
    ...         return text
    """

    #: A short word for the system in messages (``cluster.client()``'s error, say).
    system_name: ClassVar[str | None] = None

    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Any:
        """The client of this system for a running cluster (``cluster.client()`` with no node
        name). Runs in the controller's process, not in a node.

        A system with a client of its own overrides this (the KV store returns a Clerk);
        by default there is none, and the learner is told to name a node.
        """
        raise LookupError(
            f"{cls.__name__} has no client of its own, so client() needs a node name, e.g. "
            "client('n0'); a system with one (for example service='kv') answers client() "
            "with its client"
        )

    def services(self) -> list[object] | dict[str, object]:
        """Objects whose public methods become RPCs ``ClassName.method`` on this node."""
        return []

    def status(self) -> dict[str, Any]:
        """Fields shown by ``Cluster.status()`` (role, term, ...). Must be plain data."""
        return {}

    def close(self) -> None:
        """Graceful stop: flush and release resources. Not called on a crash."""
