"""Cluster: start N real node processes and control their fate (crash, restart, partition...).

The controller lives in the learner's process (a script, a test, a notebook kernel). Each node
``n0 .. n{N-1}`` is a real OS process started with the *spawn* method of ``multiprocess`` (so a
NodeProgram class defined in a notebook travels, pickled by value with dill), with its own rpc
Server on its own port, its own data directory and its own log file.

Faults are real: ``crash`` is SIGKILL (no goodbye, no flush), ``pause`` is SIGSTOP, and network
faults are injected by calling each node's built-in ``Fault.set`` RPC, so the node's own rpc
layer drops what crosses a partition. The controller's rpc client is named ``"controller"``,
which every FaultPolicy exempts, so control calls always get through.

This module must never leave a process behind: nodes exit when the controller dies (a watchdog
in each node) and ``close()`` kills whatever did not stop gracefully.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.machinery
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from distlab.cluster.node import SCHEDULING, load_program, node_main
from distlab.cluster.program import Address, NodeProgram
from distlab.cluster.system import find_system
from distlab.core import StatusMap, derive_seed
from distlab.rpc.faults import CONTROLLER  # the fault-exempt client name, defined once

__all__ = ["Cluster", "ClusterError", "Event", "NodeStatus"]


class ClusterError(RuntimeError):
    """A node failed to start, or a control call was misused."""


@dataclass(frozen=True)
class NodeStatus:
    """One node as the controller sees it.

    ``state`` is one of "up", "paused", "unresponsive" (running but did not answer in time),
    "crashed", "stopped". ``alive`` means the process is up and answered the status call.
    ``fields`` are whatever the node program's ``status()`` returned (role, term, ...).
    """

    name: str
    state: str
    alive: bool
    pid: int | None
    address: Address | None
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One entry of the cluster's trace: a fault injected, or a line from a node's log."""

    time: float  # seconds since the epoch (UTC)
    node: str  # the node concerned, or "*" for the whole cluster
    kind: str  # "start", "crash", "restart", "stop", "pause", "resume", "partition", ...
    detail: str = ""
    source: str = "controller"  # or "log"

    def __str__(self) -> str:
        stamp = datetime.fromtimestamp(self.time, timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        return f"{stamp} {self.node:>4} {self.kind}: {self.detail}".rstrip(": ")


@dataclass
class _Node:
    name: str
    index: int
    data_dir: Path
    log_file: Path
    process: Any = None
    conn: Any = None
    address: Address | None = None
    state: str = "stopped"  # up | paused | crashed | stopped


@dataclass(frozen=True)
class ClusterStatistics:
    """Counters of what the controller has done."""

    nodes: int
    up: int
    starts: int
    crashes: int
    faults_injected: int


class Cluster:
    """N node processes on this machine, and the controls to break them.

    Use :meth:`start` (a context manager)::

        with Cluster.start(3, program=DurableKV, seed=1) as cluster:
            cluster.crash("n0"); cluster.restart("n0")
            cluster.partition(["n0"], ["n1", "n2"]); cluster.heal()
            print(cluster.status())
    """

    def __init__(
        self,
        n: int,
        program: type[NodeProgram] | str | None = None,
        *,
        service: Any = None,
        seed: int = 0,
        root: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        secret: str | None = None,
        start_timeout_s: float = 60.0,
        rpc_timeout_s: float = 2.0,
        scheduling: str = "normal",
        **options: Any,
    ) -> None:
        if n < 1:
            raise ValueError(f"a cluster needs at least one node, got n={n}")
        self.chosen: dict[str, Any] = {}
        """How a named system was chosen (``{"service": "kv", "consistency": "strong"}``)."""
        if program is None:
            if service is None:
                raise ClusterError("Cluster.start needs program=... or service=NAME")
            program, options = self._choose(service, options)
        elif service is not None:
            if isinstance(service, str) and _is_system(service):
                raise ClusterError(
                    f"service={service!r} chooses the program itself; do not pass program= too"
                )
            options["service"] = service  # the program's own option (RaftPeer's service=)
        self.program_cls = load_program(program)  # fail here, not in n child processes
        import multiprocess

        self._program_blob = program if isinstance(program, str) else _ship(program)
        self._program_name = program if isinstance(program, str) else program.__name__
        self._context = multiprocess.get_context("spawn")
        self.seed = seed
        self.host = host
        self.secret = secret
        # Only this controller knows it: a node serves the calls that change its network or
        # its peers (Fault.set, Node.set_peers) only to a client that proves it.
        self.control_secret = secrets.token_hex(16)
        self.options = options
        self.start_timeout_s = start_timeout_s
        self.rpc_timeout_s = rpc_timeout_s
        if scheduling not in SCHEDULING:
            raise ValueError(f"scheduling must be one of {SCHEDULING}, got {scheduling!r}")
        self.scheduling = scheduling
        self._owns_root = root is None
        if root is None:
            _remove_abandoned_roots()
            self.root = Path(tempfile.mkdtemp(prefix=_ROOT_PREFIX))
            (self.root / _OWNER_FILE).write_text(str(os.getpid()), encoding="utf-8")
        else:
            self.root = Path(root)
        self._lock = threading.RLock()
        self._nodes = {
            f"n{i}": _Node(
                name=f"n{i}",
                index=i,
                data_dir=self.root / "data" / f"n{i}",
                log_file=self.root / "logs" / f"n{i}.log",
            )
            for i in range(n)
        }
        self._events: list[Event] = []
        self._clients: dict[str, Any] = {}
        self._user_clients: list[Any] = []
        self._blocked: set[tuple[str, str]] = set()
        self._delay: dict[str, Any] = {}
        self._starts = 0
        self._crashes = 0
        self._faults = 0
        self._closed = False
        _OPEN_CLUSTERS.add(self)

    def _choose(
        self, service: Any, options: dict[str, Any]
    ) -> tuple[type[NodeProgram], dict[str, Any]]:
        """The program and node options a named system picks for ``options``."""
        try:
            system = find_system(service) if isinstance(service, str) else service
            chosen = system.choose(**options)
        except (LookupError, ValueError, TypeError) as error:
            raise ClusterError(f"service={service!r}: {error}") from None
        name = service if isinstance(service, str) else type(service).__name__
        self.chosen = {"service": name, **chosen.choice}
        return chosen.program, dict(chosen.options)

    # -- starting ------------------------------------------------------------------------
    @classmethod
    def start(
        cls, n: int, program: type[NodeProgram] | str | None = None, **kwargs: Any
    ) -> Cluster:
        """Start ``n`` nodes running ``program`` and wait until all are ready.

        Options (all keyword):

        - ``program``: a `NodeProgram` subclass (or ``"module:Class"``), run on every node;
        - ``service``: with no ``program``, the name of a registered system that picks the
          program for the other options -- ``service="kv", consistency="strong"``
          (Raft-replicated, linearizable), ``"weak"`` (eventually consistent replicas) or
          ``"quorum"`` (N replicas; ``r=``, ``w=``) starts the replicated KV store; with a
          ``program``, an option of that program (RaftPeer's replicated service);
        - ``seed`` (0): every node's randomness and fault injection derive from it;
        - ``root``: where data dirs and logs go (default: a temporary folder, removed on
          `close`); ``host`` ("127.0.0.1"); ``secret``: a shared secret for the rpc layer
          (required beyond loopback);
        - ``start_timeout_s`` (60): how long a node may take to report ready;
          ``rpc_timeout_s`` (2): the controller's control calls;
        - ``scheduling`` ("normal"): how the OS schedules node processes. ``"batch"``
          (Linux's SCHED_BATCH; elsewhere the same as ``"normal"``): a node that a message
          wakes does not preempt the process running on that CPU, so a Raft leader sends to
          every follower before they run -- faster for one blocking writer on an idle
          machine, but fragile when other processes keep the CPUs busy (see
          `distlab.cluster.node.schedule`); ``"normal"``: the OS's default policy;
        - any other keyword: an option of the program (``ctx.options`` in each node).
        """
        cluster = cls(n, program, **kwargs)
        try:
            cluster._launch(list(cluster._nodes))
        except BaseException:
            cluster.close()
            raise
        return cluster

    @property
    def names(self) -> list[str]:
        """Node names, in order."""
        return list(self._nodes)

    def _spec(self, node: _Node) -> dict[str, Any]:
        return {
            "name": node.name,
            "host": self.host,
            "port": node.address[1] if node.address else 0,  # keep the port across restarts
            "data_dir": str(node.data_dir),
            "log_file": str(node.log_file),
            "secret": self.secret,
            "control_secret": self.control_secret,
            "seed": derive_seed(self.seed, node.name),
            "policy": self._policy_config(node.name),
            "scheduling": self.scheduling,
            "options": self.options,
        }

    def _launch(self, names: list[str], kind: str = "start") -> None:
        nodes = [self._node(name) for name in names]
        for node in nodes:
            parent_conn, child_conn = self._context.Pipe()
            process = self._context.Process(
                target=node_main,
                args=(self._spec(node), self._program_blob, child_conn),
                name=f"distlab-{node.name}",
                daemon=True,
            )
            process.start()
            child_conn.close()
            node.process, node.conn = process, parent_conn
            self._starts += 1
        moved = []
        for node in nodes:
            old = node.address
            node.address = tuple(self._expect(node, "bound"))
            if old is not None and old != node.address:
                moved.append(node.name)
        peers = {name: other.address for name, other in self._nodes.items() if other.address}
        for node in nodes:
            node.conn.send(("peers", peers))
        for node in nodes:
            self._expect(node, "ready")
            node.state = "up"
            self._drop_client(node.name)
            self._record(kind, node.name, f"pid {node.process.pid} at {self._where(node)}")
        # A restarted node that could not keep its port tells the others where it is now.
        if moved:
            for other in self._nodes.values():
                if other.state in ("up", "paused") and other.name not in names:
                    other.conn.send(("peers", peers))  # a paused node reads it on resume
        for name in moved:
            self._record("moved", name, f"now at {self._where(self._nodes[name])}")

    def _expect(self, node: _Node, kind: str) -> Any:
        deadline = time.monotonic() + self.start_timeout_s
        while not node.conn.poll(0.05):
            if not node.process.is_alive():
                node.process.join()
                raise ClusterError(
                    f"{node.name} exited with code {node.process.exitcode} before '{kind}'; "
                    f"its log:\n{self._tail(node)}"
                )
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{node.name} did not report '{kind}' within "
                    f"{self.start_timeout_s} s; log:\n{self._tail(node)}"
                )
        try:
            got, payload = node.conn.recv()
        except EOFError:
            node.process.join(timeout=10)
            raise ClusterError(
                f"{node.name} exited (code {node.process.exitcode}) before '{kind}'. In a script, "
                f"start the cluster under `if __name__ == '__main__':` (spawn re-imports the "
                f"main module). Log:\n{self._tail(node)}"
            ) from None
        if got == "failed":
            raise ClusterError(f"{node.name} failed to start:\n{payload}")
        if got != kind:
            raise ClusterError(f"{node.name} sent {got!r}, expected {kind!r}")
        return payload

    # -- process faults ------------------------------------------------------------------
    def crash(self, name: str) -> None:
        """Kill the node with SIGKILL: no goodbye, no flush; unsynced state is lost."""
        with self._lock:
            node = self._running(name, "crash")
            os.kill(node.process.pid, signal.SIGKILL)
            node.process.join(timeout=30)
            self._forget_process(node, "crashed")
            self._crashes += 1
            self._record("crash", name, "SIGKILL")

    def stop(self, name: str, timeout_s: float = 10.0) -> None:
        """Stop the node gracefully (its program's ``close()`` runs); SIGKILL after
        ``timeout_s`` seconds."""
        with self._lock:
            node = self._running(name, "stop")
            if node.state == "paused":
                os.kill(node.process.pid, signal.SIGCONT)
            with contextlib.suppress(OSError):
                node.conn.send(("stop", None))
            node.process.join(timeout=timeout_s)
            graceful = not node.process.is_alive()
            if not graceful:
                node.process.kill()
                node.process.join(timeout=30)
            self._forget_process(node, "stopped")
            self._record("stop", name, "graceful" if graceful else "did not stop in time: killed")

    def restart(self, name: str) -> None:
        """Start a fresh process for a crashed or stopped node; it recovers from its data dir."""
        with self._lock:
            node = self._node(name)
            self._refresh(node)
            if node.state in ("up", "paused"):
                raise ClusterError(f"{name} is {node.state}; crash() or stop() it before restart()")
            self._launch([name], kind="restart")

    def pause(self, name: str) -> None:
        """Freeze the node with SIGSTOP: it holds its state and sockets but does nothing."""
        with self._lock:
            node = self._running(name, "pause")
            if node.state != "paused":
                os.kill(node.process.pid, signal.SIGSTOP)
                node.state = "paused"
                self._record("pause", name, "SIGSTOP")

    def resume(self, name: str) -> None:
        """Let a paused node continue (SIGCONT)."""
        with self._lock:
            node = self._running(name, "resume")
            if node.state == "paused":
                os.kill(node.process.pid, signal.SIGCONT)
                node.state = "up"
                self._record("resume", name, "SIGCONT")
                # Network faults changed while it was frozen are applied now.
                self._push_faults([name])

    # -- network faults ------------------------------------------------------------------
    def partition(self, *groups: list[str] | tuple[str, ...] | set[str]) -> None:
        """Split the network: nodes in different groups cannot reach each other.

        Nodes named in no group keep talking to everyone. Replaces any earlier partition.
        """
        seen: dict[str, int] = {}
        for number, group in enumerate(groups):
            for name in group:
                self._node(name)
                if name in seen:
                    raise ClusterError(f"{name} appears in two partition groups")
                seen[name] = number
        blocked = {(a, b) for a in seen for b in seen if seen[a] != seen[b]}
        with self._lock:
            self._blocked = blocked
            self._push_faults(self.names)
            self._record("partition", "*", " | ".join(",".join(g) for g in groups))

    def isolate(self, name: str) -> None:
        """Cut one node off from all the others (both directions)."""
        self.partition([name], [other for other in self.names if other != name])

    def heal(self) -> None:
        """Remove every network fault: partitions and slowness."""
        with self._lock:
            self._blocked = set()
            self._delay = {}
            self._push_faults(self.names)
            self._record("heal", "*", "network healed")

    def slow(self, name: str, delay_ms: float) -> None:
        """Delay every message the node sends (requests and replies) by about ``delay_ms``."""
        with self._lock:
            self._node(name)
            if delay_ms > 0:
                self._delay[name] = delay_ms
            else:
                self._delay.pop(name, None)
            self._push_faults([name])
            self._record("slow", name, f"delay {delay_ms} ms")

    def _policy_config(self, name: str) -> dict[str, Any]:
        config: dict[str, Any] = {
            "blocked": sorted([a, b] for a, b in self._blocked),
            "exempt": [CONTROLLER],
            "seed": derive_seed(self.seed, name, "faults"),
        }
        config["delay_ms"] = self._delay.get(name, 0)
        return config

    def _push_faults(self, names: list[str]) -> None:
        # Down nodes get their fault config in their spec when they restart.
        futures = {}
        for name in names:
            if self._node(name).state == "up":
                client = self._control_client(name)
                futures[name] = client.call_async(
                    "Fault.set", self._policy_config(name), timeout=self.rpc_timeout_s
                )
        for future in futures.values():
            future.result()  # a control call failing is a real error: surface it
            self._faults += 1

    def wait_for(
        self, condition: Callable[[], bool], timeout_s: float, *, poll_s: float = 0.05
    ) -> bool:
        """Let real time pass until ``condition()`` holds (True) or ``timeout_s`` seconds
        passed (False): `distlab.core.ClusterControl`'s wait, as the simulator's is in
        virtual time. It polls every ``poll_s`` seconds, short enough not to delay a
        workload's verdict and long enough not to flood the nodes with status calls."""
        deadline = time.monotonic() + timeout_s
        while True:
            if condition():
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(poll_s, remaining))

    # -- observing -----------------------------------------------------------------------
    def status(self, timeout_s: float = 1.0) -> StatusMap:
        """Each node's state, pid, address and program fields (a short RPC per live node).

        A dict of `NodeStatus`; printed, a table with each node's role and term, where a
        leader of an older term than another node has seen reads "stale"."""
        with self._lock:
            futures: dict[str, Future] = {}
            for name, node in self._nodes.items():
                self._refresh(node)
                if node.state == "up":
                    futures[name] = self._control_client(name).call_async(
                        "Node.status", timeout=timeout_s
                    )
            result = StatusMap()
            for name, node in self._nodes.items():
                pid = node.process.pid if node.process is not None else None
                state, fields = node.state, {}
                if name in futures:
                    try:
                        fields = dict(futures[name].result().get("fields", {}))
                    except Exception:
                        state = "unresponsive"
                result[name] = NodeStatus(
                    name=name,
                    state=state,
                    alive=state == "up",
                    pid=pid,
                    address=node.address,
                    fields=fields,
                )
            return result

    def logs(self, name: str) -> str:
        """The node's log file as text (every incarnation: restarts append)."""
        node = self._node(name)
        try:
            return node.log_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def events(self, include_logs: bool = False) -> list[Event]:
        """The merged, time-ordered trace: faults injected, and node log lines if asked."""
        with self._lock:
            events = list(self._events)
        if include_logs:
            for name in self._nodes:
                events.extend(_parse_log(name, self.logs(name)))
        return sorted(events, key=lambda event: event.time)

    def address(self, name: str) -> Address:
        """The node's current rpc address."""
        node = self._node(name)
        if node.address is None:
            raise ClusterError(f"{name} has never started")
        return node.address

    def pid(self, name: str) -> int | None:
        """The node's process id, or None when it is not running."""
        node = self._node(name)
        return node.process.pid if node.process is not None else None

    def data_dir(self, name: str) -> Path:
        """The node's data directory (kept across crashes and restarts)."""
        return self._node(name).data_dir

    def client(
        self, name: str | None = None, *, client_name: str = "client", **options: Any
    ) -> Any:
        """A new rpc Client to the node, named ``client_name`` (subject to network faults
        unless named "controller"). The cluster closes it on ``close()``.

        With no node name: the system's own client, from its program's
        ``NodeProgram.client_for`` (on a ``service="kv"`` cluster, a KV Clerk with put / get /
        append, retries and at-most-once); ``options`` go to that client.
        """
        if name is None:
            try:
                client = self.program_cls.client_for(self, **options)
            except LookupError as error:
                raise ClusterError(str(error)) from None
            self._user_clients.append(client)
            return client
        if options:
            raise TypeError(f"unexpected options {sorted(options)} for a client of node {name}")
        from distlab.rpc import Client

        client = Client(self.address(name), name=client_name, secret=self.secret)
        self._user_clients.append(client)
        return client

    def statistics(self) -> ClusterStatistics:
        """Counters: nodes, how many are up, starts, crashes, fault calls."""
        with self._lock:
            return ClusterStatistics(
                nodes=len(self._nodes),
                up=sum(node.state == "up" for node in self._nodes.values()),
                starts=self._starts,
                crashes=self._crashes,
                faults_injected=self._faults,
            )

    # -- closing -------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every node (gracefully if it can, else SIGKILL), join them, remove temp files."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for client in [*self._user_clients, *self._clients.values()]:
                with contextlib.suppress(Exception):
                    client.close()
            running = [n for n in self._nodes.values() if n.process is not None]
            for node in running:
                with contextlib.suppress(OSError):
                    if node.state == "paused":
                        os.kill(node.process.pid, signal.SIGCONT)
                    node.conn.send(("stop", None))
            deadline = time.monotonic() + 5.0
            for node in running:
                node.process.join(timeout=max(deadline - time.monotonic(), 0.1))
                if node.process.is_alive():
                    node.process.kill()
                    node.process.join(timeout=30)
                self._forget_process(node, "stopped")
            if self._owns_root:
                shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        states = ", ".join(f"{n.name}={n.state}" for n in self._nodes.values())
        return f"<Cluster {self._program_name}: {states}>"

    # -- helpers -------------------------------------------------------------------------
    def _node(self, name: str) -> _Node:
        try:
            return self._nodes[name]
        except KeyError:
            raise ClusterError(
                f"no node named {name!r}; nodes are {', '.join(self._nodes)}"
            ) from None

    def _refresh(self, node: _Node) -> None:
        # A node can die without us (an exception in the program, an external kill -9).
        if node.process is not None and not node.process.is_alive():
            node.process.join(timeout=5)
            code = node.process.exitcode
            self._forget_process(node, "crashed")
            self._record("exit", node.name, f"exited on its own (exit code {code})")

    def _running(self, name: str, action: str) -> _Node:
        node = self._node(name)
        self._refresh(node)
        if self._closed:
            raise ClusterError(f"cannot {action} {name}: the cluster is closed")
        if node.state not in ("up", "paused"):
            raise ClusterError(f"cannot {action} {name}: it is {node.state}")
        return node

    def _forget_process(self, node: _Node, state: str) -> None:
        with contextlib.suppress(OSError):
            node.conn.close()
        with contextlib.suppress(ValueError, AttributeError):
            node.process.close()
        node.process, node.conn, node.state = None, None, state
        self._drop_client(node.name)

    def _control_client(self, name: str) -> Any:
        from distlab.rpc import Client

        client = self._clients.get(name)
        if client is None:
            client = Client(
                self.address(name),
                name=CONTROLLER,
                secret=self.secret,
                control_secret=self.control_secret,
            )
            self._clients[name] = client
        return client

    def _drop_client(self, name: str) -> None:
        client = self._clients.pop(name, None)
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()

    def _record(self, kind: str, node: str, detail: str) -> None:
        self._events.append(Event(time.time(), node, kind, detail))

    def _where(self, node: _Node) -> str:
        return f"{node.address[0]}:{node.address[1]}" if node.address else "?"

    def _tail(self, node: _Node, lines: int = 30) -> str:
        return "\n".join(self.logs(node.name).splitlines()[-lines:])


_ROOT_PREFIX = "distlab-cluster-"
_OWNER_FILE = "owner.pid"
_OPEN_CLUSTERS: weakref.WeakSet[Cluster] = weakref.WeakSet()


@atexit.register
def _close_open_clusters() -> None:
    """A script or a kernel that exits with clusters open still stops their nodes and
    removes their temporary folders (the nodes' watchdogs would stop them anyway)."""
    for cluster in list(_OPEN_CLUSTERS):
        with contextlib.suppress(Exception):
            cluster.close()


def _remove_abandoned_roots() -> None:
    """Temporary cluster folders whose owner process is gone (a kernel killed with a cluster
    open): remove them, so they do not pile up in the temp dir."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_ROOT_PREFIX}*"):
        try:
            owner = int((folder / _OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours, or from before owners were recorded: leave it
        if owner == os.getpid() or _process_exists(owner):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _is_system(name: str) -> bool:
    try:
        find_system(name)
    except LookupError:
        return False
    return True


def _ship(program: type[NodeProgram]) -> Any:
    """Package a program class so that a freshly spawned process can load it.

    dill sends a class defined in ``__main__`` (a notebook, a script) by value, and with
    ``recurse=True`` the globals it uses travel too (see shared/NOTEBOOKS.md). A class from an
    importable module goes by reference. A class from a module the child cannot import by
    name (a test file loaded by path) goes as (module name, file, class name): the child loads
    that file itself.
    """
    import dill

    module = program.__module__
    top_level = module.partition(".")[0]
    importable = module == "__main__" or (
        top_level in sys.builtin_module_names
        or importlib.machinery.PathFinder.find_spec(top_level, sys.path) is not None
    )
    source = getattr(sys.modules.get(module), "__file__", None)
    if importable or source is None:
        return dill.dumps(program, recurse=True)
    return ("file", module, source, program.__qualname__)


def _parse_log(name: str, text: str) -> list[Event]:
    events = []
    for line in text.splitlines():
        stamp, _, rest = line.partition(" ")
        try:
            moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)
        except ValueError:
            continue  # a traceback line or printed text: not an event
        events.append(Event(moment.timestamp(), name, "log", rest, source="log"))
    return events
