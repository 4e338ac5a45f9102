"""The configuration manager (配置管理器): who is in the chain, in which order, in which epoch.

What it is: `ConfigManager`, a pure core. Chain nodes send it a `Heartbeat` every few
ticks; it answers each with the current configuration (`NewConfig`), which also renews the
node's read lease when the node is a member. Every tick it decides:

- **founding**: once every node of the initial chain has been heard from, epoch 1 is that
  chain (the manager learns each node's incarnation first, so a node that restarts before
  the chain begins is not mistaken for one that holds the state);
- **removal**: a member silent for ``failure_timeout_ticks`` (longer than any lease it was
  granted, so it has stopped answering reads), or heard again under a new incarnation
  (it restarted and lost its memory), leaves the chain -- head, middle or tail alike --
  unless no member that holds the state would remain (a chain survives n-1 failures);
- **joining**: a chain node that is alive but not a member is added at the tail; its
  predecessor transfers the state to it; a joiner that has not caught up within
  ``4 * failure_timeout_ticks`` is removed again (so an unreachable joiner does not stall
  the chain's commits forever).

Each change is a new epoch, persisted (`ManagerReady.config`) before it is announced to
every member and to the removed nodes. The chain cannot decide this for itself: two halves
of a partitioned chain would each drop the other (`distlab.chain.core`'s no-manager mode);
the manager is the one place that decides. By default it is one durable process (node
``n0``); with ``managers=3`` `distlab.chain.replicated_manager` runs this same core on the
leader of a Raft group of manager nodes, and each configuration it installs becomes an entry
that group commits before anyone hears of it.

What it must never do: read the clock, touch files or sockets (the driver persists).
Where it fits: beside `distlab.chain.core`; node ``n0`` of a chain cluster runs it (or the
manager nodes' Raft leader, `distlab.chain.replicated_manager`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from distlab.chain.core import ChainTiming
from distlab.chain.messages import Heartbeat, Members, NewConfig
from distlab.core import Envelope, NodeId, Ready

__all__ = ["ConfigManager", "ManagerReady", "ManagerStatistics", "Reconfiguration"]


@dataclass(frozen=True)
class ManagerReady(Ready):
    """The manager's Ready: a new configuration ``(epoch, members)`` to persist first."""

    config: tuple[int, Members] | None = None

    @property
    def must_persist(self) -> bool:
        return self.config is not None


@dataclass(frozen=True)
class Reconfiguration:
    """Output: the manager moved to ``epoch`` (``removed`` and ``added`` node names)."""

    epoch: int
    members: tuple[str, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    at_tick: int


@dataclass(frozen=True)
class ManagerStatistics:
    role: str
    epoch: int
    chain: tuple[str, ...]
    reconfigurations: int


@dataclass
class _Heard:
    tick: int
    incarnation: int
    synced: bool


@dataclass
class ConfigManager:
    """The chain's configuration manager (see the module docstring). Pure."""

    node_id: NodeId
    chain_nodes: tuple[NodeId, ...]
    timing: ChainTiming = field(default_factory=ChainTiming)
    epoch: int = 0
    members: Members = ()

    def __post_init__(self) -> None:
        if not self.chain_nodes:
            raise ValueError("a chain needs at least one node besides the manager")
        if self.node_id in self.chain_nodes:
            raise ValueError("the manager cannot also be a chain node")
        self.now = 0
        self.history: list[Reconfiguration] = []
        self._heard: dict[NodeId, _Heard] = {}
        self._joined_at: dict[NodeId, int] = {}
        # Restarted from a persisted configuration: the members get a full timeout to be
        # heard again, and count as holding the state once they say so.
        self._synced: dict[tuple[str, int, int], bool] = {m: False for m in self.members}
        for node, incarnation, _ in self.members:
            self._heard[node] = _Heard(0, incarnation, False)
        self._outbox: list[Envelope] = []
        self._outputs: list[Any] = []
        self._to_persist: tuple[int, Members] | None = None

    @property
    def chain(self) -> tuple[str, ...]:
        return tuple(member for member, *_ in self.members)

    def tick(self) -> None:
        self.now += 1
        self._decide()

    def receive(self, sender: NodeId, message: Any) -> None:
        if not isinstance(message, Heartbeat):
            raise ValueError(f"the configuration manager takes heartbeats, not {message!r}")
        if sender not in self.chain_nodes:
            return
        self._heard[sender] = _Heard(self.now, message.incarnation, message.synced)
        member = self._member(sender, message.incarnation)
        if member is not None:
            self._synced[member] = self._synced.get(member, False) or message.synced
        if self.epoch > 0:  # the configuration, and a lease if it is a member as it is now
            sent_at = message.sent_at if member is not None else -1
            self._send(sender, NewConfig(self.epoch, self.members, sent_at))

    def _member(self, node: NodeId, incarnation: int) -> tuple[str, int, int] | None:
        for member in self.members:
            if member[0] == node and member[1] == incarnation:
                return member
        return None

    def _alive(self, node: NodeId) -> bool:
        heard = self._heard.get(node)
        return heard is not None and self.now - heard.tick <= self.timing.failure_timeout_ticks

    def _decide(self) -> None:
        if self.epoch == 0:
            if all(node in self._heard for node in self.chain_nodes):
                founding = tuple((n, self._heard[n].incarnation, 1) for n in self.chain_nodes)
                self._synced = {member: True for member in founding}
                self._install(founding, removed=(), added=self.chain_nodes)
            return
        join_limit = 4 * self.timing.failure_timeout_ticks
        failed = []
        for member in self.members:
            node, incarnation, _ = member
            heard = self._heard.get(node)
            restarted = heard is not None and heard.incarnation != incarnation
            stuck = (
                not self._synced.get(member)
                and self.now - self._joined_at.get(node, 0) > join_limit
            )
            if restarted or not self._alive(node) or stuck:
                failed.append(member)
        keep = [m for m in self.members if m not in failed]
        if failed and not any(self._synced.get(m) for m in keep):
            keep, failed = list(self.members), []  # never give away the last copy
        gone = {m[:2] for m in failed}
        joiners = [
            (node, self._heard[node].incarnation, self.epoch + 1)
            for node in self.chain_nodes
            if node not in {m[0] for m in keep}
            and self._alive(node)
            and (node, self._heard[node].incarnation) not in gone
        ]
        if failed or joiners:
            for node, *_ in joiners:
                self._joined_at[node] = self.now
            self._install(
                tuple(keep + joiners),
                removed=tuple(node for node, *_ in failed),
                added=tuple(node for node, *_ in joiners),
            )

    def _install(
        self, members: Members, *, removed: tuple[str, ...], added: tuple[str, ...]
    ) -> None:
        announce = {node for node, *_ in self.members} | {node for node, *_ in members}
        self.epoch += 1
        self.members = members
        self._synced = {m: self._synced.get(m, False) for m in members}
        self._to_persist = (self.epoch, members)
        change = Reconfiguration(self.epoch, self.chain, removed, added, self.now)
        self.history.append(change)
        self._outputs.append(change)
        for node in sorted(announce):
            self._send(node, NewConfig(self.epoch, members, -1))

    def _send(self, peer: NodeId, message: Any) -> None:
        self._outbox.append(Envelope(self.node_id, peer, message))

    def has_ready(self) -> bool:
        return bool(self._outbox or self._outputs or self._to_persist)

    def take_ready(self) -> ManagerReady:
        ready = ManagerReady(messages=self._outbox, outputs=self._outputs, config=self._to_persist)
        self._outbox, self._outputs, self._to_persist = [], [], None
        return ready

    def statistics(self) -> ManagerStatistics:
        return ManagerStatistics("manager", self.epoch, self.chain, len(self.history))
