"""The node runtime: what one node process does from birth to death.

Inside a node process this module sets up a log file (and points stdout/stderr at it, because
nodes never print), a watchdog that exits when the controlling process dies, the node's rpc
Server (own port; the built-in ``Fault`` service lets the controller change its network), the
built-in ``Node`` service (status, ping), and the learner's :class:`NodeProgram`.

Two ways in:
* :func:`node_main` -- spawned by :class:`distlab.cluster.Cluster`; talks to the controller over a
  pipe (bound address out, peer map in, "stop" in).
* :func:`serve_forever` -- ``python -m distlab node --config ... --name ...`` on any host; the
  peer map comes from the config file and the node runs until SIGTERM/SIGINT.

This module must never print and never outlive its controller.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from distlab.cluster.program import Address, NodeContext, NodeProgram

__all__ = ["LOG_FORMAT", "NodeRuntime", "load_program", "node_main", "serve_forever"]

# UTC timestamps with milliseconds, so Cluster.events() can merge node logs with its own trace.
LOG_FORMAT = "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s: %(message)s"
LOG_DATEFMT = "%Y-%m-%dT%H:%M:%S"


def load_program(program: Any) -> type[NodeProgram]:
    """A NodeProgram class from a class, dill bytes, a ``"module:Class"`` string, or a
    ``("file", module_name, path, qualname)`` tuple."""
    if isinstance(program, tuple) and program[0] == "file":
        # A class from a module loaded by path (not importable by name): load that file.
        _, module_name, source, qualname = program
        module = sys.modules.get(module_name)
        if module is None:
            spec = importlib.util.spec_from_file_location(module_name, source)
            if spec is None or spec.loader is None:
                raise ImportError(f"cannot load the node program's module from {source}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        program = module
        for part in qualname.split("."):
            program = getattr(program, part)
    if isinstance(program, bytes):
        import dill

        program = dill.loads(program)
    if isinstance(program, str):
        module_name, _, class_name = program.partition(":")
        if not class_name:
            raise ValueError(f"program {program!r} must look like 'package.module:ClassName'")
        module = importlib.import_module(module_name)
        if not hasattr(module, class_name):
            raise ValueError(f"program {program!r}: {module_name} has no class {class_name!r}")
        program = getattr(module, class_name)
    if not (isinstance(program, type) and issubclass(program, NodeProgram)):
        raise TypeError(f"a node program must be a NodeProgram subclass, got {program!r}")
    return program


SCHEDULING = ("batch", "normal")


def schedule(kind: str, log: logging.Logger) -> None:
    """Ask the OS to schedule this node process as ``kind`` work ("batch" or "normal").

    What batch buys: a node spends its life waiting for messages. When one arrives, Linux wakes
    the node and, under the normal policy, lets it preempt whatever runs on that CPU --
    often the very process that sent the message. A Raft leader that sends an entry to
    two followers is then descheduled after its first send while that follower runs, and
    the second follower hears of the entry a whole handler later (issue 17: the blocking
    writer). Under SCHED_BATCH a woken node waits for the running process to block or use
    up its time slice (a few ms at most) -- here, for the leader to finish sending. It
    changes no priority: batch and normal processes share the CPUs alike.
    Why not by default: when other processes keep both CPUs busy, every wake-up of a batch
    node waits out a time slice, and a protocol with many small exchanges crawls -- GFS's
    re-replication after a corrupt block missed its 30 s in 2 of 4 runs beside two busy
    loops (0 of 4 as normal work). A course machine runs notebooks and tests beside its
    clusters, so batch is an option for measuring, not the default.
    Call it before starting threads: they inherit it. Elsewhere than Linux it does nothing.
    """
    if kind not in SCHEDULING:
        raise ValueError(f"scheduling must be one of {SCHEDULING}, got {kind!r}")
    if kind == "normal" or not hasattr(os, "SCHED_BATCH"):
        return
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError as error:  # a container may forbid it: run as normal work
        log.info("scheduling as batch work refused (%s); running as normal work", error)


def _setup_logging(name: str, log_file: Path, level: int = logging.INFO) -> logging.Logger:
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file, encoding="utf-8")
    formatter = logging.Formatter(LOG_FORMAT, LOG_DATEFMT)
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return logging.getLogger(f"node.{name}")


def _redirect_output(log_file: Path) -> None:
    # Anything printed (or a crash traceback) goes to the log, never to the notebook.
    log_file.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", closefd=False)  # noqa: SIM115


def _watch_parent(log: logging.Logger) -> None:
    """Exit as soon as the controlling process dies (no orphans, even after kill -9)."""
    import multiprocess
    from multiprocess.connection import wait

    parent = multiprocess.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        log.warning("controller process died; exiting")
        logging.shutdown()
        os._exit(3)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


class _NodeService:
    """Built-in RPCs every node offers (registered as ``Node``)."""

    def __init__(self, runtime: NodeRuntime) -> None:
        self._runtime = runtime

    def ping(self) -> str:
        """Liveness check: returns this node's name."""
        return self._runtime.name

    def status(self) -> dict[str, Any]:
        """The node's name, pid, and its program's ``status()`` fields."""
        return self._runtime.status()

    def set_peers(self, peers: dict[str, list[Any]]) -> None:
        """Learn new peer addresses (after a peer restarted on another port)."""
        self._runtime.update_peers({p: (str(a[0]), int(a[1])) for p, a in peers.items()})


class NodeRuntime:
    """One node: rpc Server + built-in services + the program. Used by both entry points."""

    def __init__(self, spec: dict[str, Any], program: Any, log: logging.Logger) -> None:
        self.name: str = spec["name"]
        self.spec = spec
        self.log = log
        self.program_cls = load_program(program)
        self.program: NodeProgram | None = None
        self.context: NodeContext | None = None
        self.server: Any = None

    def bind(self) -> Address:
        """Start the rpc Server on the preferred port (or any free one) and return its address."""
        from distlab.rpc import FaultPolicy, Server

        policy_config = self.spec.get("policy") or {}
        policy = (
            FaultPolicy.from_dict(policy_config)
            if policy_config
            else FaultPolicy(seed=self.spec.get("seed", 0))
        )
        host, port = self.spec["host"], int(self.spec.get("port") or 0)
        try:
            server = Server(
                host=host,
                port=port,
                name=self.name,
                secret=self.spec.get("secret"),
                policy=policy,
                control_secret=self.spec.get("control_secret"),
            ).start()
        except OSError as error:
            if port == 0 or self.spec.get("fixed_port"):
                raise
            self.log.warning("port %d is taken (%s); binding a fresh port", port, error)
            server = Server(
                host=host,
                port=0,
                name=self.name,
                secret=self.spec.get("secret"),
                policy=policy,
                control_secret=self.spec.get("control_secret"),
            ).start()
        self.server = server
        server.register(_NodeService(self), name="Node")
        address = (str(server.address[0]), int(server.address[1]))
        self.log.info("rpc server listening on %s:%d (pid %d)", *address, os.getpid())
        return address

    def start_program(self, peers: dict[str, Address]) -> None:
        """Construct the program with its context and register its services."""
        data_dir = Path(self.spec["data_dir"])
        data_dir.mkdir(parents=True, exist_ok=True)
        self.context = NodeContext(
            name=self.name,
            address=tuple(self.server.address),
            peers=peers,
            data_dir=data_dir,
            log=self.log,
            policy=self.server.policy,
            secret=self.spec.get("secret"),
            seed=int(self.spec.get("seed", 0)),
            options=self.spec.get("options") or {},
        )
        self.program = self.program_cls(self.context)
        services = self.program.services()
        items = services.items() if isinstance(services, dict) else [(None, s) for s in services]
        for service_name, service in items:
            self.server.register(service, name=service_name)
        self.log.info("program %s started; peers %s", self.program_cls.__name__, peers)

    def update_peers(self, peers: dict[str, Address]) -> None:
        if self.context is not None:
            self.context.update_peers(peers)
            self.log.info("peer addresses updated: %s", peers)

    def status(self) -> dict[str, Any]:
        fields = self.program.status() if self.program is not None else {}
        return {"name": self.name, "pid": os.getpid(), "fields": dict(fields)}

    def close(self) -> None:
        """Graceful stop: the program first, then the network."""
        self.log.info("stopping gracefully")
        try:
            if self.program is not None:
                self.program.close()
        finally:
            if self.context is not None:
                self.context.close()
            if self.server is not None:
                self.server.close()


def node_main(spec: dict[str, Any], program: Any, conn: Any) -> None:
    """Entry point of a node process spawned by the Cluster controller."""
    log_file = Path(spec["log_file"])
    _redirect_output(log_file)
    log = _setup_logging(spec["name"], log_file)
    schedule(spec.get("scheduling", "normal"), log)  # before any thread starts
    _watch_parent(log)
    log.info("node %s starting (pid %d)", spec["name"], os.getpid())
    runtime = None
    try:
        runtime = NodeRuntime(spec, program, log)
        conn.send(("bound", runtime.bind()))
        kind, peers = conn.recv()
        assert kind == "peers", f"expected the peer map, got {kind!r}"
        runtime.start_program(peers)
        conn.send(("ready", os.getpid()))
        while True:
            kind, payload = conn.recv()
            if kind == "stop":
                runtime.close()
                conn.send(("stopped", None))
                break
            if kind == "peers":
                runtime.update_peers(payload)
    except EOFError:
        log.warning("controller pipe closed; exiting")
        logging.shutdown()
        os._exit(3)
    except Exception:
        text = traceback.format_exc()
        log.error("node failed:\n%s", text)
        with contextlib.suppress(OSError):
            conn.send(("failed", text))
        logging.shutdown()
        os._exit(1)
    log.info("node %s stopped", spec["name"])
    logging.shutdown()


def serve_forever(spec: dict[str, Any], program: Any, peers: dict[str, Address]) -> int:
    """Run one node in this process until SIGTERM or SIGINT (the multi-host entry point)."""
    log_file = Path(spec["log_file"])
    log = _setup_logging(spec["name"], log_file)
    schedule(spec.get("scheduling", "normal"), log)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    runtime = NodeRuntime(spec, program, log)
    runtime.bind()
    runtime.start_program(peers)
    while not stop.wait(0.5):
        pass
    runtime.close()
    logging.shutdown()
    return 0
