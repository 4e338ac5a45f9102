"""Primary-backup in real processes: two replicas and the arbiter, each a node; and its client.

What it is: `PrimaryBackupNode`, one `distlab.cluster.CoreNode` program for all three nodes
of ``Cluster.start(3, service="primary_backup")``. A cluster runs one program, so the role
comes from the node's name: the first two names (``n0``, ``n1``) are replicas (``n0`` the
first primary), the last (``n2``) is the arbiter -- the shared disk's test-and-set.

- A replica's only durable state is a mark that it has run before (a restarted replica
  lost its memory: it must be cloned, never lead). Its machine lives in memory, as a
  virtual machine's does; the arbiter's flag is what must survive, in ``arbiter.flag``
  (checksummed and fsync'ed; a corrupt file stops the arbiter with a clear error rather
  than let it forget who went live).
- Clients call ``Replica.submit(client, seq, op, key, value)``: it waits (up to a second)
  for the reply the output rule lets out, and answers ``{"status": "ok", "output": ...}``,
  ``{"status": "not_primary"}`` (definite: nothing happened) or ``{"status": "pending"}``
  (indefinite: it may still happen). A malformed request is a clear `ValueError`.
- `PrimaryBackupClient`: put / get / append with one sequence number per operation across
  retries (the replicas' client table drops duplicates), failing over between the two
  replicas, recording a `distlab.check.History` with definite and indefinite failures.

What it must never do: print, or send before persisting. Where it fits: over `Replica` and
`Arbiter`, under `distlab.primary_backup.system` (``service="primary_backup"``).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import asdict, replace
from typing import Any

from distlab.check import History
from distlab.cluster.core_node import CoreNode
from distlab.cluster.launch import ClusterError
from distlab.cluster.program import NodeContext
from distlab.core import Ready, derive_seed
from distlab.kv.clerk import KVOperations
from distlab.primary_backup.arbiter import (
    Arbiter,
    ArbiterReady,
    ArbiterState,
    decode_state,
    encode_state,
)
from distlab.primary_backup.messages import CODEC, Reply
from distlab.primary_backup.replica import Replica, ReplicaConfig, ReplicaReady, Rules
from distlab.storage import read_snapshot, write_snapshot

__all__ = ["PrimaryBackupClient", "PrimaryBackupNode", "config_from_options", "node_roles"]

_RULES = ("output_rule", "log_nondeterminism", "test_and_set")
_TIMING = (
    "failover_timeout_ticks",
    "replay_per_tick",
    "idle_instructions_per_tick",
    "timer_every_ticks",
    "retry_ticks",
)
OPTIONS = ("replication", *_RULES, *_TIMING)


def config_from_options(options: dict[str, Any]) -> ReplicaConfig:
    """A `ReplicaConfig` from ``Cluster.start``'s options; ValueError for unknown ones."""
    unknown = sorted(set(options) - set(OPTIONS) - {"service"})
    if unknown:
        raise ValueError(f"unknown primary_backup options {unknown}; known: {list(OPTIONS)}")
    rules = {name: options[name] for name in _RULES if name in options}
    for name, value in rules.items():
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")
    timing = {name: options[name] for name in _TIMING if name in options}
    for name, value in timing.items():
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError(f"{name} must be an integer number of ticks, got {value!r}")
    return ReplicaConfig(
        rules=Rules(**rules),
        replication=options.get("replication", "log"),
        **timing,
    )


def node_roles(names: list[str]) -> tuple[str, str, str]:
    """(first primary, first backup, arbiter) from the cluster's node names."""
    ordered = sorted(names, key=lambda name: (len(name), name))
    if len(ordered) != 3:
        raise ValueError(
            f"primary-backup runs on exactly 3 nodes (two replicas and the arbiter), "
            f"got {len(ordered)}: {ordered}"
        )
    return ordered[0], ordered[1], ordered[2]


class PrimaryBackupNode(CoreNode):
    """A replica or the arbiter, by name (module docstring)."""

    codec = CODEC
    tick_ms = 10.0
    system_name = "primary_backup"

    def __init__(self, ctx: NodeContext) -> None:
        self.replies: dict[str, Reply] = {}  # each client's latest reply (before boot)
        self.replies_resent = 0
        self._replied = threading.Condition()
        super().__init__(ctx)

    def boot(self) -> Replica | Arbiter:
        primary, backup, arbiter = node_roles([self.ctx.name, *self.ctx.peers])
        name = self.ctx.name
        if name == arbiter:
            self.flag_path = self.ctx.data_dir / "arbiter.flag"
            data = read_snapshot(self.flag_path)  # CorruptLogError on a damaged file
            state = decode_state(data) if data is not None else ArbiterState()
            self.ctx.log.info("arbiter boots at epoch %d, holder %r", state.epoch, state.holder)
            return Arbiter(name, state)
        # No digest after every entry: only the simulator compares them.
        config = replace(config_from_options(self.ctx.options), fingerprints=False)
        self.mark_path = self.ctx.data_dir / "started"
        first_boot = not self.mark_path.exists()
        rng = random.Random(derive_seed(self.ctx.seed, "replica"))
        partner = backup if name == primary else primary
        return Replica(
            name,
            partner,
            arbiter,
            rng,
            config,
            first_boot=first_boot,
            starts_as_primary=name == primary,
        )

    def persist(self, ready: Ready) -> None:
        if isinstance(ready, ReplicaReady) and ready.started:
            write_snapshot(self.mark_path, b"started")
        elif isinstance(ready, ArbiterReady) and ready.state is not None:
            write_snapshot(self.flag_path, encode_state(ready.state))

    def output(self, item: Any) -> None:
        if isinstance(item, Reply):
            with self._replied:
                if item.resent:
                    self.replies_resent += 1
                self.replies[item.client] = item
                self._replied.notify_all()
        else:
            self.ctx.log.info("%s", item)

    def services(self) -> dict[str, object]:
        return {"Replica": _ReplicaRPC(self), **super().services()}

    def status(self) -> dict[str, Any]:
        with self.lock:
            core = self.core
            if isinstance(core, Arbiter):
                return {"role": "arbiter", "epoch": core.state.epoch, "holder": core.state.holder}
            assert isinstance(core, Replica)
            fields = asdict(core.statistics())
            fields["replies_resent"] = self.replies_resent
            return fields

    def wait_for_reply(self, client: str, seq: int, timeout_s: float) -> Reply | None:
        deadline = time.monotonic() + timeout_s
        with self._replied:
            while True:
                reply = self.replies.get(client)
                if reply is not None and reply.seq == seq:
                    return reply
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._replied.wait(remaining)

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> PrimaryBackupClient:
        return PrimaryBackupClient(cluster, **options)


class _ReplicaRPC:
    """What clients call on a replica."""

    def __init__(self, node: PrimaryBackupNode) -> None:
        self._node = node

    def submit(
        self, client: str, seq: int, op: str, key: str, value: str = "", wait_s: float = 1.0
    ) -> dict[str, Any]:
        """Run ``op(key, value)`` for ``client``'s request ``seq``; see the module docstring."""
        node = self._node
        if not isinstance(node.core, Replica):
            raise ValueError(f"{node.ctx.name} is the arbiter; send requests to a replica")
        if not isinstance(wait_s, (int, float)) or not 0 <= wait_s <= 10:
            raise ValueError(f"wait_s must be a number of seconds in [0, 10], got {wait_s!r}")
        answer = node.run(lambda core: core.submit(client, seq, op, key, value))
        if answer == "bad_request":
            raise ValueError(
                f"malformed request: client={client!r} seq={seq!r} op={op!r} key={key!r} "
                f"value={value!r} (op is put, get or append; key a non-empty string not "
                "starting with '_'; value a string; seq a positive integer)"
            )
        if answer == "not_primary":
            return {"status": "not_primary", "role": node.status()["role"]}
        reply = node.wait_for_reply(client, seq, float(wait_s))
        if reply is None:
            return {"status": "pending"}  # held by the output rule, or lost with the backup
        return {"status": "ok", "output": reply.output, "index": reply.index}


class PrimaryBackupClient(KVOperations):
    """put / get / append against a primary-backup cluster (module docstring)."""

    def __init__(
        self,
        cluster: Any,
        *,
        client_id: str = "client",
        history: History | None = None,
        deadline_s: float = 10.0,
        attempt_timeout_s: float = 1.0,
    ) -> None:
        self.cluster = cluster
        self.client_id = client_id
        self.history = history
        self.deadline_s = deadline_s
        self.attempt_timeout_s = attempt_timeout_s
        primary, backup, _arbiter = node_roles(list(cluster.names))
        self.replicas = [primary, backup]
        self.target = primary
        self._seq = itertools.count(1)
        self._rpc: dict[str, Any] = {}
        self.latencies_s: list[float] = []

    def _operation(self, op: str, key: str, value: str) -> str:
        seq = next(self._seq)
        call = None
        if self.history is not None:
            call = self.history.invoke(self.client_id, op, key, None if op == "get" else value)  # type: ignore[arg-type]
        started = time.monotonic()
        deadline = started + self.deadline_s
        maybe_happened = False
        while time.monotonic() < deadline:
            outcome = self._attempt(self.target, seq, op, key, value)
            if isinstance(outcome, dict):
                self.latencies_s.append(time.monotonic() - started)
                if call is not None and self.history is not None:
                    self.history.ok(call, outcome["output"] if op == "get" else None)
                return str(outcome["output"])
            maybe_happened = maybe_happened or outcome == "maybe"
            self.target = self.replicas[1] if self.target == self.replicas[0] else self.replicas[0]
            if outcome == "refused":
                time.sleep(0.02)  # a client's back-off before asking the other replica
        if call is not None and self.history is not None:
            self.history.info(call) if maybe_happened else self.history.fail(call)
        raise TimeoutError(f"{op}({key!r}) by {self.client_id}: no reply in {self.deadline_s} s")

    def _attempt(self, node: str, seq: int, op: str, key: str, value: str) -> dict | str:
        from distlab.rpc import RemoteError, RpcError

        try:
            rpc = self._rpc.get(node)
            if rpc is None:
                rpc = self._rpc[node] = self.cluster.client(node, client_name=self.client_id)
            answer = rpc.call(
                "Replica.submit",
                self.client_id,
                seq,
                op,
                key,
                value,
                self.attempt_timeout_s,
                timeout=self.attempt_timeout_s + 2.0,
            )
        except RemoteError as error:
            if "malformed request" in str(error):
                raise ValueError(str(error)) from None
            return "maybe"
        except RpcError as error:
            self._rpc.pop(node, None)  # reconnect next time (a restarted node has a new port)
            return "refused" if error.definite else "maybe"
        except ClusterError:  # the node is down: the cluster has no address for it
            self._rpc.pop(node, None)
            return "refused"
        if answer.get("status") == "ok":
            return answer
        return "refused" if answer.get("status") == "not_primary" else "maybe"

    def close(self) -> None:
        """The cluster closes the connections it handed out."""
