"""Chains in real processes: one node program, two roles -- the manager (``n0``) and chain nodes.

What it is: `ChainProcess`, a `distlab.cluster.CoreNode` that runs the same pure cores as
the simulator, with real time and real sockets. Its role comes from its name: ``n0`` runs
the configuration manager (`distlab.chain.manager.ConfigManager`), whose configuration is
written to ``config.snap`` (fsync'ed, checksummed) before it is announced, so a restarted
manager carries on from the epoch it had -- but while ``n0`` is down nobody can change the
chain, and reads stop once the leases run out. With ``managers=3`` (or any number above
one) the manager is replicated instead: ``n0 .. n2`` run it on distlab's Raft
(`distlab.chain.replicated_manager`: each configuration is committed by a majority of them
before it is announced, and the Raft leader decides), so it survives the loss of a minority
of them; a chain node then sends its heartbeats to every manager node and takes a
configuration from any of them (its core knows them as one manager, ``MANAGERS``). The
other nodes (``n1 ..``, or ``n3 ..`` with three managers) run chain nodes
(`distlab.chain.core.ChainNode`), fail-stop as in the paper: a restarted chain node comes
back empty, under a fresh incarnation, and the manager adds it at the tail with a state
transfer.

Client RPCs (``Chain.write``, ``Chain.read``, ``Chain.config``) hand the request to the core
and wait for its answer (`WriteDone` when the tail has the write, `ReadDone`); a node that
cannot serve answers ``refused`` with the configuration it knows. `ChainClient` (what
``cluster.client()`` returns) asks the manager for the configuration (with replicated
managers, whichever answers as Raft leader, following ``not_leader`` hints), writes at the head,
reads at the tail (``protocol="cr"``) or at any member (``"craq"``), retries refusals,
and records each request in a `distlab.check.History` if given one: a write that timed
out is indefinite (it may still commit), a read that failed did nothing.

Options: ``protocol`` ("craq" | "cr"), ``manager`` (False: the no-manager teaching switch),
``managers`` (default 1: the single durable manager ``n0``; 3: replicated on Raft).
Ticks are 20 ms. Leases are counted in ticks; the manager waits four times a lease before
giving up on a node, room for a loaded machine's late ticks (a paused process -- SIGSTOP --
is beyond what leases without synchronised clocks can cover, as the paper's fail-stop
model assumes).
What it must never do: print, or answer a read it has no lease for.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from typing import Any, cast

from distlab.chain.core import PROTOCOLS, ChainNode, ChainTiming, ReadDone, Refused, WriteDone
from distlab.chain.manager import ConfigManager, ManagerReady, Reconfiguration
from distlab.chain.messages import CODEC, Members
from distlab.cluster.core_node import Answers, CoreNode
from distlab.cluster.program import NodeContext
from distlab.core import Core, Ready, RequestRefused, RequestTimeout, derive_seed

__all__ = ["MANAGER", "REAL_TIMING", "ChainClient", "ChainProcess", "ChainRefused", "ChainTimeout"]

MANAGER = "n0"
#: With replicated managers, the name a chain node's core gives its manager: the process
#: sends what the core addresses to it to every manager node, and hands the core each
#: manager node's messages as from it (only committed configurations are ever announced).
MANAGERS = "managers"
#: Ticks of 20 ms: heartbeats every 40 ms, leases of 240 ms, a node given up after 1 s.
REAL_TIMING = ChainTiming(
    heartbeat_ticks=2, lease_ticks=12, failure_timeout_ticks=50, resend_ticks=5
)
MAX_KEY_BYTES = 256
MAX_VALUE_BYTES = 64 * 1024
MAX_WAIT_S = 30.0


def manager_names(options: dict[str, Any]) -> tuple[str, ...]:
    """The manager nodes of a chain cluster: ``n0 .. n{managers-1}`` (option ``managers``)."""
    count = options.get("managers", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"managers must be a positive number of nodes, got {count!r}")
    return tuple(f"n{i}" for i in range(count))


def cluster_managers(cluster: Any) -> tuple[str, ...]:
    """The manager nodes of a running chain cluster (its ``managers`` option)."""
    chosen = dict(getattr(cluster, "chosen", {}) or {})
    options = dict(getattr(cluster, "options", {}) or {})
    return manager_names({"managers": chosen.get("managers", options.get("managers", 1))})


def _chain_nodes(ctx: NodeContext) -> tuple[str, ...]:
    names = {ctx.name, *ctx.peers} - set(manager_names(ctx.options))
    return tuple(sorted(names, key=lambda name: int(name[1:]) if name[1:].isdigit() else 0))


class ChainProcess(CoreNode):
    """A chain cluster's node program (see the module docstring)."""

    codec = CODEC
    tick_ms = 20.0
    system_name = "chain"

    def __init__(self, ctx: NodeContext) -> None:
        protocol = ctx.options.get("protocol", "craq")
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.protocol = protocol
        self.with_manager = bool(ctx.options.get("manager", True))
        self.managers = manager_names(ctx.options)
        self.replicated_manager = len(self.managers) > 1
        self.config_path = ctx.data_dir / "config.snap"
        self.answers = Answers(ctx.name)
        super().__init__(ctx)

    # -- CoreNode -------------------------------------------------------------------------------

    def boot(self) -> Core:
        from distlab.storage import read_snapshot

        if self.ctx.name == MANAGER and not self.replicated_manager:
            epoch, members = 0, cast(Members, ())
            raw = read_snapshot(self.config_path)  # a corrupt file raises CorruptLogError
            if raw is not None:
                epoch, members = _decode_config(raw)
            return ConfigManager(MANAGER, _chain_nodes(self.ctx), REAL_TIMING, epoch, members)
        return ChainNode(
            self.ctx.name,
            manager=(MANAGERS if self.replicated_manager else MANAGER)
            if self.with_manager
            else None,
            protocol=self.protocol,
            incarnation=int.from_bytes(os.urandom(4), "big") >> 1 or 1,  # this boot's
            timing=REAL_TIMING,
            initial_members=() if self.with_manager else _chain_nodes(self.ctx),
        )

    def persist(self, ready: Ready) -> None:
        from distlab.storage import write_snapshot

        if isinstance(ready, ManagerReady) and ready.config is not None:
            epoch, members = ready.config
            write_snapshot(self.config_path, json.dumps([epoch, members]).encode())

    def output(self, item: Any) -> None:
        if isinstance(item, Reconfiguration):
            self.ctx.log.info(
                "epoch %d: chain %s (-%s +%s)", item.epoch, item.members, item.removed, item.added
            )
            return
        if isinstance(item, (WriteDone, ReadDone)):
            self.answers.deliver(item.op, item)

    def services(self) -> dict[str, object]:
        return {"Chain": _ChainRPC(self), **super().services()}

    def core_sender(self, peer: str) -> str:
        # With replicated managers, a manager node's message reaches the core as from
        # ``MANAGERS``: the core knows them as one manager.
        if self.replicated_manager and peer in self.managers:
            return MANAGERS
        return peer

    def destinations(self, dst: str) -> list[str]:
        if dst == MANAGERS:  # heartbeats reach every manager node; the leader answers
            return list(self.managers)
        return [dst]

    def status(self) -> dict[str, Any]:
        with self.lock:
            fields = dict(vars(self.core.statistics()))  # type: ignore[attr-defined]
        fields["chain"] = list(fields["chain"])
        fields["protocol"] = self.protocol
        return fields

    # -- serving clients ---------------------------------------------------------------------

    def serve(self, request: Any, timeout_s: float) -> dict[str, Any]:
        """Hand ``request(core, op)`` to the core; wait up to ``timeout_s`` for its answer."""
        if not isinstance(self.core, ChainNode):
            raise ValueError(f"{self.ctx.name} is the configuration manager; ask a chain node")
        if not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= MAX_WAIT_S:
            raise ValueError(f"timeout_s must be in (0, {MAX_WAIT_S}], got {timeout_s!r}")
        op = self.answers.new_op()
        refused = self.run(lambda core: request(core, op))
        if isinstance(refused, Refused):
            return {
                "refused": refused.reason,
                "epoch": refused.epoch,
                "members": [m[0] for m in refused.members],
            }
        answer = self.answers.wait(op, timeout_s)
        if answer is None:
            return {"timeout": True}
        if isinstance(answer, WriteDone):
            return {"ok": True, "seq": answer.seq}
        return {"ok": True, "value": answer.value, "seq": answer.seq, "local": answer.local}

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> ChainClient:
        chosen = dict(getattr(cluster, "chosen", {}) or {})
        protocol = options.pop("protocol", chosen.get("protocol", "craq"))
        return ChainClient(cluster, protocol=protocol, **options)


def _check_text(name: str, value: Any, limit: int) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {type(value).__name__}")
    if len(value.encode()) > limit:
        raise ValueError(f"{name} is longer than {limit} bytes")
    return value


def _decode_config(raw: bytes) -> tuple[int, Members]:
    try:
        epoch, members = json.loads(raw)
        parsed = tuple((str(n), int(i), int(s)) for n, i, s in members)
    except (ValueError, TypeError) as error:
        raise ValueError(f"config.snap does not hold a chain configuration: {error}") from None
    if not isinstance(epoch, int) or epoch < 0:
        raise ValueError(f"config.snap holds a bad epoch {epoch!r}")
    return epoch, parsed


class _ChainRPC:
    """``Chain.write``, ``Chain.read``, ``Chain.config``: what clients call."""

    def __init__(self, node: ChainProcess) -> None:
        self._node = node

    def write(self, key: str, value: str, timeout_s: float = 2.0) -> dict[str, Any]:
        """Write ``value`` under ``key`` (at the head); answered once the tail has it."""
        key, value = (
            _check_text("key", key, MAX_KEY_BYTES),
            _check_text("value", value, MAX_VALUE_BYTES),
        )
        return self._node.serve(lambda core, op: core.write(op, key, value), timeout_s)

    def read(self, key: str, timeout_s: float = 2.0) -> dict[str, Any]:
        """Read ``key`` here (chain replication: at the tail; CRAQ: at any member)."""
        key = _check_text("key", key, MAX_KEY_BYTES)
        return self._node.serve(lambda core, op: core.read(op, key), timeout_s)

    def config(self) -> dict[str, Any]:
        """The configuration this node knows: ``{"epoch": e, "members": [head, ..., tail]}``."""
        with self._node.lock:
            core = self._node.core
            return {"epoch": core.epoch, "members": [m[0] for m in core.members]}  # type: ignore[attr-defined]


# -- the client --------------------------------------------------------------------------------


class ChainTimeout(RequestTimeout):
    """No answer in time. ``definite`` is False for a write: it may still commit."""


class ChainRefused(RequestRefused):
    """Every node asked refused before the deadline (definite: nothing happened)."""


class ChainClient:
    """Writes at the head, reads at the tail (CR) or any member (CRAQ); see the module
    docstring. ``history`` records every request for the checker."""

    def __init__(
        self,
        cluster: Any,
        *,
        protocol: str = "craq",
        history: Any = None,
        client_id: str = "chain-client",
        deadline_s: float = 5.0,
        attempt_timeout_s: float = 1.0,
        seed: int = 0,
    ) -> None:
        if protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
        self.cluster = cluster
        self.protocol = protocol
        self.history = history
        self.client_id = client_id
        self.deadline_s = deadline_s
        self.attempt_timeout_s = attempt_timeout_s
        self.members: list[str] = []
        self.managers = list(cluster_managers(cluster))
        self._rng = random.Random(derive_seed(seed, "chain-client", client_id))
        self._clients: dict[str, tuple[Any, Any]] = {}

    def put(self, key: str, value: str) -> None:
        def write() -> None:
            self._request("write", key, value)

        if self.history is None:
            write()
        else:
            self.history.record(self.client_id, "put", key, value, write)

    def get(self, key: str) -> str:
        def read() -> str:
            return str(self._request("read", key)["value"])

        if self.history is None:
            return read()
        return self.history.record_read(self.client_id, key, read)

    def refresh(self) -> list[str]:
        """Ask the configuration manager for the chain (head first). With replicated
        managers: whichever answers as leader, following "not leader" hints."""
        last: Any = None
        for _ in range(2 * len(self.managers)):
            manager = self.managers[0]
            try:
                config = self._rpc(manager).call("Chain.config", timeout=self.attempt_timeout_s)
            except Exception as error:  # down: ask the next one
                last = error
                config = {"not_leader": None}
            if "members" in config:
                self.members = list(config["members"])
                return self.members
            last = last or config
            hint = config.get("not_leader")
            rest = [m for m in self.managers if m != manager] + [manager]
            if hint in rest and hint != manager:
                rest.remove(hint)
                rest.insert(0, hint)
            self.managers = rest
        raise ChainRefused(f"no configuration manager answered as leader ({last!r:.120})")

    def _target(self, kind: str) -> str:
        if not self.members:
            self.refresh()  # ChainRefused (definite) if no manager answers: nothing was sent
        if not self.members:
            raise ChainRefused("the chain has not started yet")
        if kind == "write":
            return self.members[0]
        return self.members[-1] if self.protocol == "cr" else self._rng.choice(self.members)

    def _request(self, kind: str, key: str, value: str | None = None) -> dict[str, Any]:
        """Send the request to the right node, again after a definite refusal (wrong node,
        node down). A write that may have reached the head is never sent twice: a second
        copy could land after a later write (the client has no duplicate table here), so
        the write ends as indefinite instead."""
        deadline = time.monotonic() + self.deadline_s
        last: Any = None
        while time.monotonic() < deadline:
            try:
                node = self._target(kind)
                args = (key, value) if kind == "write" else (key,)
                answer = self._rpc(node).call(
                    f"Chain.{kind}",
                    *args,
                    self.attempt_timeout_s,
                    timeout=self.attempt_timeout_s + 1.0,
                )
            except Exception as error:  # node down or unreachable; the manager may be too
                if kind == "write" and not getattr(error, "definite", False):
                    raise ChainTimeout(f"write({key!r}): {error!r:.120}", definite=False) from None
                last = error
                self.members = []
                threading.Event().wait(0.05)  # back off before asking the manager again
                continue
            if answer.get("ok"):
                return answer
            if kind == "write" and answer.get("timeout"):
                raise ChainTimeout(
                    f"write({key!r}) at {node}: not committed in time", definite=False
                )
            last = answer
            self.members = []
            threading.Event().wait(0.02)
        raise ChainRefused(f"{kind}({key!r}) by {self.client_id}: no answer ({last!r:.120})")

    def _rpc(self, node: str) -> Any:
        address = self.cluster.address(node)
        cached = self._clients.get(node)
        if cached is None or cached[0] != address:  # a restarted node listens elsewhere
            self._clients[node] = (address, self.cluster.client(node, client_name=self.client_id))
        return self._clients[node][1]

    def close(self) -> None:
        """The cluster closes the connections it handed out."""
