"""The configuration manager replicated on Raft: any manager node can take over.

What it is: the chain's configuration manager (配置管理器) run by several *manager nodes*
(``Cluster.start(6, service="chain", managers=3)``: ``n0 .. n2`` manage, ``n3 .. n5`` are the
chain) instead of one. Two parts, as in every service built on a consensus log:

- **the state** -- the epoch, the members, and what each reconfiguration changed -- is
  `ConfigState`, a `distlab.replicated.service.ReplicatedService` applied from the Raft log
  of the manager nodes (`ManagerPeer`, a `distlab.replicated.RaftPeer` whose Raft group is
  only the manager nodes: ``raft_members``). A configuration change is an ``install`` entry
  that a majority of managers has committed *before* any chain node hears of it -- the
  "save before announcing" rule the single manager keeps with its config.snap. ``install``
  applies only on top of the epoch before it, so a change decided on stale knowledge is
  turned down by the log itself, never half-applied.
- **the decisions** -- a member went silent, a restarted node asks to join -- are taken by
  the same pure `distlab.chain.manager.ConfigManager` as in the simulator, run only on the
  current Raft leader among the managers, from its own observations: every chain node sends
  its heartbeats to every manager node, the leader answers them. Followers stay passive (they
  answer nothing; a client asking one for the configuration gets a hint to the leader, and
  so does a client asking a leader that a majority has not confirmed lately).

Taking over: a manager node that becomes leader confirms it with a ReadIndex round
(`RaftPeer.read_nowait`: it answers once the new term's first entry is committed and applied,
so every ``install`` the old leader committed is applied here), waits until every entry of
its own log is applied too, and builds a fresh `ConfigManager` from that configuration.
That core treats every member
as heard at the moment of takeover, so it removes nobody before a full failure timeout
(``REAL_TIMING.failure_timeout_ticks``, 1 s) has passed -- only a node heard again under a
new incarnation, which lost its memory and with it its lease, goes at once.

Why read leases stay safe across a leader change (the clock assumption): a manager grants a
lease (answers a heartbeat with ``sent_at``) only within ``LEASE_GRANT_WINDOW_S`` of the
start of a ReadIndex round in which a majority of managers confirmed it was still leader;
otherwise its answers carry no lease. A newer leader needs a vote from that majority, given
after its confirmation, so it is elected after the confirmed round began; every lease the
old leader granted ends by that start + ``LEASE_GRANT_WINDOW_S`` + a lease (0.3 s + 0.24 s),
well before the new leader may remove anyone (1 s after taking over). This assumes that the
manager nodes' and chain nodes' clocks run at about the same rate, the same assumption the
single manager makes for its leases (a process paused by SIGSTOP breaks it, as there).

What it must never do: announce a configuration before it is committed, decide anything on a
node that is not the Raft leader, or grant a lease without a recent confirmation.
Where it fits: `distlab.chain.system` picks `ChainClusterNode` when ``managers`` > 1: manager
nodes run `ManagerPeer`, the others `distlab.chain.node.ChainProcess`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from typing import Any

from distlab.chain.manager import ConfigManager, ManagerReady, Reconfiguration
from distlab.chain.messages import CODEC, Heartbeat, Members, NewConfig
from distlab.chain.node import REAL_TIMING, ChainClient, ChainProcess, manager_names
from distlab.cluster.core_node import decode_steps
from distlab.cluster.program import NodeContext, NodeProgram
from distlab.raft import NotLeader
from distlab.replicated.raft_peer import RaftPeer
from distlab.replicated.replies import Applied

__all__ = [
    "CONFIRM_EVERY_S",
    "LEASE_GRANT_WINDOW_S",
    "ChainClusterNode",
    "ConfigState",
    "ManagerPeer",
]

#: How often the leader confirms its leadership (a ReadIndex round), in seconds.
CONFIRM_EVERY_S = 0.1
#: How long after a confirmed round began the leader may still grant read leases.
LEASE_GRANT_WINDOW_S = 0.3
#: The manager's tick: the same 20 ms as the chain nodes' (`distlab.chain.node`).
MANAGER_TICK_S = 0.02
#: How many heartbeats wait for a busy deciding thread at most (they come again anyway).
HEARTBEATS_QUEUED = 256
#: How many reconfigurations the replicated state remembers (the newest).
HISTORY_KEPT = 64


def _members(raw: Any) -> Members:
    return tuple((str(n), int(i), int(s)) for n, i, s in raw)


class ConfigState:
    """The configuration manager's replicated state: epoch, members, recent changes.

    Commands (plain data, from the Raft log): ``["install", epoch, members, removed,
    added, tick]`` -- applied, and answered True, only if ``epoch`` is the next epoch;
    anything else answers False and changes nothing. ``tick`` is when the deciding leader
    decided it, in ticks since that leader took over (it shows the wait after a takeover).
    ``query(None)`` answers ``{"epoch", "members"}``; ``query("history")`` the recent
    changes."""

    def __init__(self) -> None:
        self.epoch = 0
        self.members: Members = ()
        self.history: list[dict[str, Any]] = []

    def apply(self, command: Any) -> bool:
        if not (isinstance(command, list) and len(command) == 6 and command[0] == "install"):
            raise ValueError(f"the configuration state takes install commands, not {command!r}")
        _, epoch, members, removed, added, tick = command
        if epoch != self.epoch + 1:
            return False  # decided on a configuration that is no longer the newest
        self.epoch, self.members = epoch, _members(members)
        change = {"epoch": epoch, "members": [m[0] for m in self.members]}
        change.update(removed=[str(n) for n in removed], added=[str(n) for n in added])
        change["decided_at_tick"] = int(tick)
        self.history = [*self.history, change][-HISTORY_KEPT:]
        return True

    def snapshot(self) -> bytes:
        state = {"epoch": self.epoch, "members": self.members, "history": self.history}
        return json.dumps(state).encode()

    def restore(self, data: bytes) -> None:
        state = json.loads(data)
        self.epoch, self.members = int(state["epoch"]), _members(state["members"])
        self.history = list(state["history"])

    def query(self, request: Any = None) -> Any:
        if request == "history":
            return list(self.history)
        if request is not None:
            raise ValueError(f"unknown query {request!r} (None or 'history')")
        return {"epoch": self.epoch, "members": [list(m) for m in self.members]}


class ManagerPeer(RaftPeer):
    """One manager node: a Raft peer of the manager group hosting `ConfigState`, and, while
    it is the leader, the `ConfigManager` that decides (see the module docstring)."""

    def __init__(self, ctx: NodeContext) -> None:
        self.managers = manager_names(ctx.options)
        ctx.options["service"] = ConfigState
        ctx.options["raft_members"] = list(self.managers)
        ctx.options.setdefault("snapshot_every", 64)
        super().__init__(ctx)
        names = {ctx.name, *ctx.peers} - set(self.managers)
        self.chain_nodes = tuple(sorted(names, key=lambda n: int(n[1:]) if n[1:].isdigit() else 0))
        if not self.chain_nodes:
            raise ValueError("a chain needs at least one node besides the managers")
        self._decide = threading.Lock()  # guards the deciding core; held until announced
        self._core: ConfigManager | None = None
        self._core_term = -1
        self._confirmed = (-1, 0.0)  # (term, when the last confirmed round began)
        self._next_confirm = 0.0
        self.leases_granted = self.leases_withheld = 0
        self._inbox: deque[tuple[str, Heartbeat]] = deque(maxlen=HEARTBEATS_QUEUED)
        self._stopping = threading.Event()
        self._manager_loop = threading.Thread(
            target=self._manage, name=f"chain-manager-{ctx.name}", daemon=True
        )
        self._manager_loop.start()

    # -- the leader's loop -------------------------------------------------------------------

    def _leadership(self) -> int | None:
        """The current term if this node is the Raft leader, else None."""
        with self._lock:
            return self.node.current_term if self.node.role.value == "leader" else None

    def _manage(self) -> None:
        while not self._stopping.wait(MANAGER_TICK_S):
            try:
                self._manage_once()
            except Exception:  # a bug: log it, stop deciding; Raft hands over to a peer
                self.log.exception("chain manager: deciding failed")
                with self._decide:
                    self._core = None

    def _manage_once(self) -> None:
        term = self._leadership()
        if term is None:
            with self._decide:
                self._core = None  # a follower decides nothing
            return
        now = time.monotonic()
        if self._core is None or self._core_term != term or now >= self._next_confirm:
            self._next_confirm = now + CONFIRM_EVERY_S
            if not self._confirm(term):
                return
            with self._decide:
                if self._core is None or self._core_term != term:
                    self._take_over(term)
        with self._decide:
            self._drain()
            if self._core is not None:
                self._core.tick()
                self._flush()

    def _confirm(self, term: int) -> bool:
        """A ReadIndex round: proof that a majority still followed us when it began
        (recorded in ``_confirmed``), and that we applied every entry committed before."""
        began = time.monotonic()
        waiter = self.read_nowait(None)
        if isinstance(waiter, NotLeader):
            return False
        reply = self.wait_for_read(waiter, 1.0)
        if not isinstance(reply, Applied) or self._leadership() != term:
            return False
        self._confirmed = (term, began)
        return True

    def _take_over(self, term: int) -> None:
        """Build the deciding core from the committed configuration (``_decide`` held).

        Only once every entry in our log is applied: an ``install`` of ours that timed out
        may still commit, and a core built beside it could grant leases to a node that
        entry removes. While we lead, nobody else appends, so "all applied" stays true."""
        with self._apply_lock:
            applied = self._applied_index
            state = self.service.query(None)  # type: ignore[attr-defined]
        with self._lock:
            in_log = self.node.log.last_index
        if applied != in_log:
            return  # an entry of ours is still undecided: look again next tick
        epoch, members = int(state["epoch"]), _members(state["members"])
        self._core = ConfigManager(self.ctx.name, self.chain_nodes, REAL_TIMING, epoch, members)
        self._core_term = term
        self.log.info("chain manager: deciding in term %d from epoch %d", term, epoch)

    def confirmed_leader(self) -> bool:
        """Did a majority of managers follow us (this term) at most ``LEASE_GRANT_WINDOW_S``
        ago? A leader cut off from the other managers keeps its role (Raft has no
        timeout for that) but stops being confirmed."""
        term, began = self._confirmed
        fresh = time.monotonic() - began <= LEASE_GRANT_WINDOW_S
        return fresh and term == self._leadership()

    def _may_grant_leases(self) -> bool:
        return self._confirmed[0] == self._core_term and self.confirmed_leader()

    def _flush(self) -> None:
        """Handle the deciding core's output (``_decide`` held): a new configuration is
        committed through the log first; its messages go out only if that succeeded."""
        core = self._core
        while core is not None and core.has_ready():
            ready: ManagerReady = core.take_ready()
            if ready.config is not None:
                epoch, members = ready.config
                change = next(o for o in ready.outputs if isinstance(o, Reconfiguration))
                command = ["install", epoch, [list(m) for m in members]]
                command += [list(change.removed), list(change.added), change.at_tick]
                waiter = self.propose_nowait(command)
                reply = (
                    waiter if isinstance(waiter, NotLeader) else self.wait_for_result(waiter, 2.0)
                )
                if not (isinstance(reply, Applied) and reply.result is True):
                    # Not committed (or not in time): announce nothing. If we are still the
                    # leader, a fresh core is built from what the log holds.
                    self.log.info("chain manager: epoch %d not committed: %r", epoch, reply)
                    self._core = None
                    return
                self.log.info(
                    "epoch %d: chain %s (-%s +%s)",
                    epoch,
                    change.members,
                    change.removed,
                    change.added,
                )
            grant = self._may_grant_leases()
            for envelope in ready.messages:
                message = envelope.message
                if isinstance(message, NewConfig) and message.sent_at >= 0:
                    if grant:
                        self.leases_granted += 1
                    else:
                        self.leases_withheld += 1
                        message = NewConfig(message.epoch, message.members, -1)  # no lease
                self._send(envelope.dst, message)

    def _send(self, peer: str, message: Any) -> None:
        try:
            self.ctx.client(peer).call_async(
                "Core.step", self.ctx.name, CODEC.encode(message), timeout=1.0
            )
        except Exception as error:  # an unreachable chain node: heartbeats come again
            self.log.debug("message to %s not sent: %r", peer, error)

    def heartbeat(self, sender: str, beat: Heartbeat) -> None:
        """A chain node's heartbeat: handled now, or -- while the deciding thread waits for
        a configuration to commit -- queued for it, so RPC threads never pile up here (they
        also carry the Raft messages that commit it)."""
        self._inbox.append((sender, beat))  # a bounded deque: the oldest beat goes first
        if self._decide.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._decide.release()

    def _drain(self) -> None:
        """Give the queued heartbeats to the deciding core (``_decide`` held)."""
        while self._inbox:
            sender, beat = self._inbox.popleft()
            if self._core is not None:  # only the leader's core listens
                self._core.receive(sender, beat)
                self._flush()

    # -- NodeProgram -----------------------------------------------------------------------

    def services(self) -> dict[str, object]:
        return {**super().services(), "Core": _HeartbeatRPC(self), "Chain": _ConfigRPC(self)}

    def status(self) -> dict[str, Any]:
        fields = super().status()
        with self._apply_lock:
            state = self.service.query(None)  # type: ignore[attr-defined]
        fields["epoch"] = state["epoch"]
        fields["chain"] = [m[0] for m in state["members"]]
        fields["deciding"] = self._core is not None
        fields["leases_granted"] = self.leases_granted
        fields["leases_withheld"] = self.leases_withheld
        return fields

    def close(self) -> None:
        self._stopping.set()
        self._manager_loop.join(timeout=5)
        super().close()


class _HeartbeatRPC:
    """``Core.step`` on a manager node: chain nodes' heartbeats (nothing else); chain nodes
    send them in batches, ``Core.step_many``, as every CoreNode sends."""

    def __init__(self, peer: ManagerPeer) -> None:
        self._peer = peer

    def step(self, sender: str, message: Any) -> None:
        self.step_many(sender, [message])

    def step_many(self, sender: str, messages: Any) -> None:
        peer = self._peer
        if sender not in peer.chain_nodes:
            raise ValueError(f"Core.step from {sender!r}, which is not a chain node")
        for beat in decode_steps(CODEC, messages, (Heartbeat,), "a manager node takes heartbeats"):
            peer.heartbeat(sender, beat)


class _ConfigRPC:
    """``Chain.config`` on a manager node: the committed configuration, from the leader."""

    def __init__(self, peer: ManagerPeer) -> None:
        self._peer = peer

    def config(self) -> dict[str, Any]:
        """``{"epoch", "members"}`` on a recently confirmed leader (so a leader cut off
        from the other managers does not hand out an old chain); ``{"not_leader": hint}``
        elsewhere."""
        peer = self._peer
        with peer._lock:
            hint = peer.node.leader_id
        if not peer.confirmed_leader():
            return {"not_leader": hint}
        with peer._apply_lock:
            state = peer.service.query(None)  # type: ignore[attr-defined]
        return {"epoch": state["epoch"], "members": [m[0] for m in state["members"]]}

    def read(self, *args: Any) -> dict[str, Any]:
        raise ValueError(f"{self._peer.ctx.name} is a configuration manager; ask a chain node")

    def write(self, *args: Any) -> dict[str, Any]:
        raise ValueError(f"{self._peer.ctx.name} is a configuration manager; ask a chain node")


class ChainClusterNode(NodeProgram):
    """A chain cluster's node program with replicated managers: nodes ``n0 ..
    n{managers-1}`` run `ManagerPeer`, the others `distlab.chain.node.ChainProcess`
    (one program per cluster, so this one picks by name and hands everything on)."""

    #: What the manager nodes run (a test puts a mutant here).
    manager_program: type[ManagerPeer] = ManagerPeer

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        manages = ctx.name in manager_names(ctx.options)
        self.role: NodeProgram = self.manager_program(ctx) if manages else ChainProcess(ctx)

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> ChainClient:
        return ChainProcess.client_for(cluster, **options)

    def services(self) -> Any:
        return self.role.services()

    def status(self) -> dict[str, Any]:
        return self.role.status()

    def close(self) -> None:
        self.role.close()
