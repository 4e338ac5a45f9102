"""Frangipani in real processes: the shared service on Raft, workstations as their own processes.

What it is: `FrangipaniNode`, the one program every node of ``Cluster.start(5,
service="frangipani")`` runs; its part comes from its name (`node_roles`):

- the first ``servers`` names (default 3: ``n0 n1 n2``) form a Raft group
  (`distlab.replicated.RaftPeer`, chapter 08) whose replicated service is the
  `FrangipaniService` -- the shared virtual disk, the logs and the lock server in one group
  (a simplification: Frangipani runs Petal and the lock service as separate groups). The
  leader also runs the **lease keeper**: a workstation whose commands stop arriving for
  ``lease_ms`` while it holds locks or has a log is recovered through the log (``recover``);
- every other name is a **workstation** (工作站): a `Workstation` core driven by a thread that
  sends its commands to the Raft leader, with RPCs ``Workstation.op(op)`` (run one file system
  operation here and answer when it is done) and ``Workstation.view()`` (cache, locks, log).
  Its cache is memory only: a SIGKILL loses every change not yet in the log on the disk,
  which is what ``sync`` is for.

What it must never do: let a workstation use a lock after its epoch was refused, or answer
an operation before the core completed it.
"""

from __future__ import annotations

import threading
import time
from typing import Any, ClassVar

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.frangipani.workstation import Workstation
from distlab.raft import NotLeader, Role
from distlab.replicated.raft_peer import RaftPeer
from distlab.replicated.replies import Applied, ApplyFailed, decode_reply

__all__ = ["FrangipaniNode", "node_roles"]

SERVICE = "distlab.frangipani.service:FrangipaniService"


def node_roles(names: list[str], servers: int = 3) -> tuple[list[str], list[str]]:
    """(server names, workstation names): the first ``servers`` names in order serve."""
    ordered = sorted(names, key=lambda name: (len(name), name))
    if not 1 <= servers < len(ordered):
        raise ValueError(
            f"{len(ordered)} nodes cannot hold {servers} servers and at least one workstation"
        )
    return ordered[:servers], ordered[servers:]


class _ServersOnly:
    """The node's context as the Raft group sees it: only the other servers are peers."""

    def __init__(self, ctx: NodeContext, servers: list[str]) -> None:
        self._ctx = ctx
        self._servers = set(servers)

    @property
    def peers(self) -> dict[str, Any]:
        return {name: a for name, a in self._ctx.peers.items() if name in self._servers}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ctx, name)


class _Server(RaftPeer):
    """A Raft peer replicating the FrangipaniService, plus the lease keeper on the leader."""

    def __init__(self, ctx: Any, lease_ms: float) -> None:
        super().__init__(ctx)
        self.lease_s = lease_ms / 1000.0
        self._stopping = threading.Event()
        self._pulse: dict[str, tuple[int, float]] = {}
        self._keeper = threading.Thread(target=self._keep_leases, daemon=True)
        self._keeper.start()

    def _keep_leases(self) -> None:
        while not self._stopping.wait(self.lease_s / 5):
            with self._lock:
                leading = self.node.role is Role.LEADER
            if not leading:
                self._pulse.clear()  # a new leader starts every lease afresh
                continue
            now = time.monotonic()
            with self._apply_lock:
                service = self.service
                renews = dict(service.renews)  # type: ignore[attr-defined]
                epochs = dict(service.epochs)  # type: ignore[attr-defined]
                active = {
                    ws
                    for ws in epochs
                    if service.logs.get(ws)  # type: ignore[attr-defined]
                    or any(ws in lk["holders"] for lk in service.locks.values())  # type: ignore[attr-defined]
                }
            for ws, count in renews.items():
                seen, since = self._pulse.get(ws, (-1, now))
                if count != seen:
                    self._pulse[ws] = (count, now)
                elif now - since >= self.lease_s and ws in active:
                    self.log.info("frangipani: lease of %s expired: recovering", ws)
                    pending = self.propose_nowait({"op": "recover", "ws": ws, "epoch": epochs[ws]})
                    if not isinstance(pending, NotLeader):
                        self.wait_for_result(pending, 2.0)
                    self._pulse[ws] = (count, now)

    def close(self) -> None:
        self._stopping.set()
        self._keeper.join(timeout=5.0)
        super().close()


class _WorkstationDriver:
    """Drives a Workstation core: its next command goes to the Raft leader, the answer back."""

    def __init__(
        self,
        ctx: NodeContext,
        servers: list[str],
        tick_s: float,
        write_back_on_revoke: bool,
        lease_ms: float,
    ) -> None:
        self.ctx = ctx
        self.servers = servers
        self.tick_s = tick_s
        # A holder hears of a revoke only in an answer, so an idle workstation asks often
        # (every 5 ticks): the price of never calling from the server to a workstation.
        # It trusts its cache for 80% of the server's lease after each answered command.
        self.core = Workstation(
            ctx.name,
            write_back_on_revoke=write_back_on_revoke,
            poll_ticks=2,
            renew_ticks=5,
            lease_ticks=max(1, int(0.8 * lease_ms / (tick_s * 1000.0))),
        )
        self.changed = threading.Condition()
        self.leader = servers[0]
        self.commands = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"ws-{ctx.name}", daemon=True)
        self._thread.start()

    def _send(self, command: dict[str, Any]) -> dict[str, Any]:
        """Submit until the group applied it once (a retried command is harmless: each is
        idempotent or, for ``hello``, simply ends the epoch it started)."""
        attempt = 0
        while not self._stopping.is_set():
            target = self.leader if attempt % 3 != 2 else self.servers[attempt % len(self.servers)]
            attempt += 1
            try:
                raw = self.ctx.client(target).call("Replicated.submit", command, 1.0, timeout=2.0)
                reply = decode_reply(raw)
            except Exception:  # that server is down or slow: try another
                self.leader = self.servers[(self.servers.index(target) + 1) % len(self.servers)]
                time.sleep(0.05)
                continue
            if isinstance(reply, Applied):
                self.leader = target
                result: dict[str, Any] = reply.result
                return result
            if isinstance(reply, ApplyFailed):
                return {"error": reply.message}
            hint = getattr(reply, "leader_hint", None)
            if hint in self.servers:
                self.leader = hint
            else:
                self.leader = self.servers[(self.servers.index(target) + 1) % len(self.servers)]
                time.sleep(0.05)
        return {"error": "stopping"}

    def _run(self) -> None:
        last_tick = time.monotonic()
        while not self._stopping.is_set():
            with self.changed:
                now = time.monotonic()
                while now - last_tick >= self.tick_s:
                    self.core.tick()
                    last_tick += self.tick_s
                command = self.core.next_command()
                self.changed.notify_all()
                if command is None:
                    self.changed.wait(self.tick_s)
                    continue
            self.commands += 1
            answer = self._send(command)
            with self.changed:
                self.core.on_answer(answer)
                self.changed.notify_all()

    def run_op(self, op: tuple[Any, ...], timeout: float) -> dict[str, Any]:
        with self.changed:
            op_id = self.core.submit(op)
            self.changed.notify_all()
            deadline = time.monotonic() + timeout
            while True:
                for done in reversed(self.core.completed):
                    if done.op_id == op_id:
                        return {"ok": done.ok, "value": done.value, "error": done.error}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {"ok": False, "timeout": True, "error": "timed out (may still run)"}
                self.changed.wait(remaining)

    def close(self) -> None:
        self._stopping.set()
        with self.changed:
            self.changed.notify_all()
        self._thread.join(timeout=5.0)


class FrangipaniNode(NodeProgram):
    """A server of the Raft group or a workstation, by name (module docstring).

    Options: ``servers`` (3), ``lease_ms`` (1500), ``write_back_on_revoke`` (True; False is
    the teaching switch that shows stale reads), ``tick_ms`` (RaftPeer's and the
    workstation's tick)."""

    system_name: ClassVar[str | None] = "frangipani"

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        servers = int(ctx.options.pop("servers", 3))
        lease_ms = float(ctx.options.pop("lease_ms", 1500.0))
        write_back = ctx.options.pop("write_back_on_revoke", True)
        if write_back not in (True, False):
            raise ValueError(f"write_back_on_revoke is True or False, not {write_back!r}")
        self.servers, self.workstations = node_roles([ctx.name, *ctx.peers], servers)
        self.server: _Server | None = None
        self.driver: _WorkstationDriver | None = None
        if ctx.name in self.servers:
            ctx.options["service"] = SERVICE
            self.server = _Server(_ServersOnly(ctx, self.servers), lease_ms)
        else:
            tick_s = float(ctx.options.get("tick_ms", 10.0)) / 1000.0
            self.driver = _WorkstationDriver(ctx, self.servers, tick_s, bool(write_back), lease_ms)

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> Any:
        from distlab.frangipani.client import FrangipaniClient

        return FrangipaniClient(cluster, **options)

    def services(self) -> dict[str, object]:
        if self.server is not None:
            return dict(self.server.services())
        return {"Workstation": _WorkstationRPC(self)}

    def status(self) -> dict[str, Any]:
        if self.server is not None:
            fields = self.server.status()
            fields["part"] = "server"
            return fields
        assert self.driver is not None
        with self.driver.changed:
            view = self.driver.core.view()
        return {
            "part": "workstation",
            "role": "workstation",
            **view,
            "lock_commands": self.driver.core.lock_commands,
        }

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
        if self.driver is not None:
            self.driver.close()
        super().close()


class _WorkstationRPC:
    """``Workstation.*``: what a FrangipaniClient calls on a workstation process."""

    def __init__(self, node: FrangipaniNode) -> None:
        assert node.driver is not None
        self._driver = node.driver

    def op(self, op: Any, timeout: float = 10.0) -> dict[str, Any]:
        """Run one operation (``["write", "/a", "x"]``); bad input is a clear ValueError."""
        if not isinstance(op, list) or not op:
            raise ValueError(f"an operation is a list like ['read', '/a'], not {op!r}")
        return self._driver.run_op(tuple(op), min(float(timeout), 60.0))

    def view(self) -> dict[str, Any]:
        with self._driver.changed:
            view = self._driver.core.view()
            view["lock_commands"] = self._driver.core.lock_commands
            view["commands"] = self._driver.commands
            view["write_backs"] = self._driver.core.write_backs
        return view
