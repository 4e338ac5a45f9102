"""Server processes for the real-engine experiments: free ports, start, kill -9, pause, resume.

etcd and Redis are not Python programs, so `distlab.cluster` (which spawns Python node
programs) cannot start them. This module is the thin equivalent for an outside binary: a
`ServerProcess` is one command line with its own log file, started with `subprocess`, and
the faults are plain signals — ``crash`` is SIGKILL (no goodbye, no flush), ``pause`` is
SIGSTOP and ``resume`` SIGCONT.

What it must never do: leave a server running. ``stop``/``crash`` reap the process, and
where util-linux's ``setpriv`` exists every server is started with a parent-death signal
(SIGKILL), so it dies with the Python process that started it even if that one is killed.
The parent-death signal fires when the *thread* that started the child exits, so every
start goes through one long-lived launcher thread. Servers never write to our stdout: their
output goes to their log file.

`ServerEngine` is what every engine built from such processes shares (etcd's cluster and
Redis's replica set): a temporary root folder, one `ServerProcess` and one link proxy per
member, the signal faults, partitions as proxy cuts, status for crashed/paused/silent
members, and ``close``. A subclass supplies only what is particular to its system: how to
start its members, which links a partition cuts, and what a live member reports.
`LeaderEngine` is a `ServerEngine` whose members elect a leader among themselves (etcd,
ZooKeeper): started together, waited on until they agree on one leader, restarted one by
one on their data folders.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from distlab.engines.base import Engine, EngineError, MemberStatus

__all__ = [
    "HOST",
    "LeaderEngine",
    "ServerEngine",
    "ServerError",
    "ServerProcess",
    "free_ports",
    "require_binary",
    "wait_until",
]

HOST = "127.0.0.1"  # engines bind loopback only

_LAUNCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="distlab-engines-launcher")
_SETPRIV = shutil.which("setpriv")
_PORT_LOCK = threading.Lock()
_RECENT_PORTS: set[int] = set()


class ServerError(RuntimeError):
    """A server binary is missing, failed to start, or did not become ready in time."""


def require_binary(name: str) -> str:
    """The full path of executable ``name``, or ServerError saying how to get it."""
    path = shutil.which(name)
    if path is None:
        raise ServerError(
            f"{name!r} was not found on PATH; install it (Debian: apt-get install "
            f"{'etcd-server' if name == 'etcd' else 'redis-server'}) to run this experiment"
        )
    return path


DEBIAN_PACKAGES = {"etcd": "etcd-server", "redis-server": "redis-server"}


def check_engines(binaries: tuple[str, ...] = ("etcd", "redis-server")) -> str:
    """Say whether the real engines a chapter needs are installed; ServerError naming every
    missing one and how to install it (so a learner learns it in the first cell, not the
    tenth)."""
    missing = [name for name in binaries if shutil.which(name) is None]
    if missing:
        packages = " ".join(DEBIAN_PACKAGES.get(name, name) for name in missing)
        raise ServerError(
            f"not installed: {', '.join(missing)}. On Debian or Ubuntu: "
            f"`sudo apt-get install {packages}` (the course's .ci/system-deps does it); "
            "then restart this kernel"
        )
    return f"found: {', '.join(binaries)} -- this chapter can run"


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct TCP ports that were free a moment ago on ``host``.

    The sockets are closed before the ports are returned (a server binary must bind them
    itself), so another program could take one in between; ports handed out earlier in
    this process are never handed out again, which rules out collisions among our own.
    """
    ports: list[int] = []
    sockets: list[socket.socket] = []
    with _PORT_LOCK:
        try:
            while len(ports) < count:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind((host, 0))
                sockets.append(sock)
                port = sock.getsockname()[1]
                if port not in _RECENT_PORTS:
                    ports.append(port)
                    _RECENT_PORTS.add(port)
        finally:
            for sock in sockets:
                sock.close()
    return ports


def wait_until(
    condition: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    """Poll ``condition`` until it returns True; ServerError naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if condition():
                return
        except OSError:
            pass  # not reachable yet
        if time.monotonic() >= deadline:
            raise ServerError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


class ServerProcess:
    """One server process (etcd member, Redis instance) that can be started again and again.

    ``command`` is the full argument list; output goes to ``log_file`` (appended, so a
    restart keeps the earlier lines).
    """

    def __init__(self, name: str, command: Sequence[str], log_file: Path) -> None:
        self.name = name
        self.command = list(command)
        self.log_file = Path(log_file)
        self.process: subprocess.Popen | None = None
        self.paused = False
        self.starts = 0

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    @property
    def running(self) -> bool:
        """Started and not exited (a paused process is still running)."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the process (ServerError if it is already running)."""
        if self.running:
            raise ServerError(f"{self.name} is already running (pid {self.pid})")
        self.process = _LAUNCHER.submit(self._spawn).result()
        self.paused = False
        self.starts += 1

    def _spawn(self) -> subprocess.Popen:
        prefix = [_SETPRIV, "--pdeathsig", "KILL", "--"] if _SETPRIV else []
        with open(self.log_file, "ab") as log:
            return subprocess.Popen(
                prefix + self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in a terminal is not meant for the servers
            )

    def crash(self) -> None:
        """kill -9 (works on a paused process too) and reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)
        self.paused = False

    def stop(self, timeout_s: float = 5.0) -> None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
        if self.process is None or self.process.poll() is not None:
            self.paused = False
            return
        if self.paused:
            self.resume()
        with contextlib.suppress(ProcessLookupError):
            self.process.terminate()
        try:
            self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.crash()
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but answers nothing until resumed."""
        self._signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        """SIGCONT."""
        self._signal(signal.SIGCONT)
        self.paused = False

    def _signal(self, signum: int) -> None:
        if not self.running:
            raise ServerError(f"{self.name} is not running; cannot send {signum!r}")
        os.kill(self.process.pid, signum)  # type: ignore[union-attr]

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the log file (for error messages)."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        state = "paused" if self.paused else "running" if self.running else "stopped"
        return f"ServerProcess({self.name!r}, {state}, pid={self.pid})"


_E = TypeVar("_E", bound="ServerEngine")
_L = TypeVar("_L", bound="LeaderEngine")


class ServerEngine(Engine):
    """An `Engine` whose members are `ServerProcess`es on loopback, each with a link proxy.

    The subclass's ``__init__`` calls this one, then fills ``servers`` and ``proxies``
    (member name -> `ServerProcess` / `distlab.engines.proxy.LinkProxy`); it implements
    `_boot` (start every member and wait until ready), `_cut` (cut the proxies for a
    partition) and `_probe` (the status fields of a member that answers).
    """

    def __init__(
        self, binary: str, names: list[str], root: str | Path | None, start_timeout_s: float
    ) -> None:
        super().__init__()
        self._binary = require_binary(binary)
        self._owns_root = root is None  # a folder we made, we remove on close()
        prefix = f"distlab-{self.system}-"
        self.root = Path(tempfile.mkdtemp(prefix=prefix) if root is None else root)
        self.start_timeout_s = start_timeout_s
        self._names = list(names)
        self.servers: dict[str, ServerProcess] = {}
        self.proxies: dict[str, Any] = {}  # name -> LinkProxy
        self._partition: list[set[str]] = []

    @classmethod
    def _started(cls: type[_E], *args: Any, **options: Any) -> _E:
        """A new engine with every member started (closed again if starting fails)."""
        engine = cls(*args, **options)
        try:
            detail = engine._boot()
        except BaseException:
            engine.close()
            raise
        engine._record("start", "*", detail)
        return engine

    @abstractmethod
    def _boot(self) -> str:
        """Start every member and wait until the engine serves; returns the event's detail."""

    @abstractmethod
    def _cut(self, sides: list[set[str]]) -> None:
        """Cut the proxied links a partition into ``sides`` separates (all proxies healed)."""

    @abstractmethod
    def _probe(self, client: Any) -> dict[str, Any]:
        """The status fields (at least ``role``) of a live member; EngineError if silent."""

    @property
    def names(self) -> list[str]:
        return list(self._names)

    def crash(self, name: str) -> None:
        self._check_member(name)
        self.servers[name].crash()
        self._record("crash", name)

    def _check_crashed(self, name: str) -> None:
        """ServerError unless member ``name`` is down (what a restart needs)."""
        self._check_member(name)
        if self.servers[name].running:
            raise ServerError(f"{name} is running; crash it before restarting it")

    def pause(self, name: str) -> None:
        self._check_member(name)
        self.servers[name].pause()
        self._record("pause", name)

    def resume(self, name: str) -> None:
        self._check_member(name)
        self.servers[name].resume()
        self._record("resume", name)

    def partition(self, *groups: Iterable[str]) -> None:
        sides = [set(group) for group in groups]
        for side in sides:
            for name in side:
                self._check_member(name)
        self._heal_proxies()
        self._cut(sides)
        self._partition = sides
        self._record("partition", "*", " | ".join(",".join(sorted(s)) for s in sides))

    def heal(self) -> None:
        self._heal_proxies()
        self._partition = []
        self._record("heal", "*")

    def _heal_proxies(self) -> None:
        for proxy in self.proxies.values():
            proxy.heal()

    def status(self) -> dict[str, MemberStatus]:
        return {name: self.status_of(name) for name in self._names}

    def status_of(self, name: str) -> MemberStatus:
        """One member's state: crashed, paused, unresponsive, or up with its `_probe` fields."""
        server, address = self.servers[name], self.address(name)
        if not server.running:
            return MemberStatus(name, "crashed", False, None, address)
        if server.paused:
            return MemberStatus(name, "paused", False, server.pid, address)
        client = self._probe_client(name)
        try:
            fields = self._probe(client)
        except EngineError:
            return MemberStatus(name, "unresponsive", False, server.pid, address)
        finally:
            client.close()
        return MemberStatus(name, "up", True, server.pid, address, fields)

    @abstractmethod
    def address(self, name: str) -> tuple[str, int]:
        """The member's client address."""

    def _probe_client(self, name: str) -> Any:
        """The short-lived client `status_of` hands `_probe` (closed after it)."""
        return self.client(name, timeout_s=1.0)

    def close(self) -> None:
        for server in self.servers.values():
            server.crash()
        for proxy in self.proxies.values():
            proxy.close()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
        self._record("close", "*")


class LeaderEngine(ServerEngine):
    """A `ServerEngine` whose members elect a leader among themselves (etcd, ZooKeeper).

    Each member has a client port (``client_ports``). A subclass says when the running
    members agree on one leader (`_agreed_leader`) and when a restarted member serves
    (`wait_for_member`); how this waits for a leader is ``leader_wait``.
    """

    #: What `wait_for_leader` names when it gives up, and how often it looks (seconds).
    leader_wait: ClassVar[tuple[str, float]]
    client_ports: dict[str, int]

    @classmethod
    def start(cls: type[_L], n: int = 3, **options: Any) -> _L:
        """Start ``n`` members and wait until they have a leader; clean up on failure."""
        return cls._started(n, **options)

    def _boot(self) -> str:
        for server in self.servers.values():
            server.start()
        self.wait_for_leader()
        return f"{len(self._names)} members"

    def address(self, name: str) -> tuple[str, int]:
        """The member's client address."""
        self._check_member(name)
        return (HOST, self.client_ports[name])

    def restart(self, name: str, *, wait: bool = True) -> None:
        """Start a crashed member on its data folder; by default wait until it serves."""
        self._check_crashed(name)
        self.servers[name].start()
        self._record("restart", name)
        if wait:
            self.wait_for_member(name)

    @abstractmethod
    def wait_for_member(self, name: str, timeout_s: float | None = None) -> None:
        """Wait until member ``name`` serves again."""

    @abstractmethod
    def _agreed_leader(self, statuses: dict[str, MemberStatus]) -> str | None:
        """The one leader the running members agree on now, or None."""

    def leader(self) -> str | None:
        """The member that calls itself leader now, or None."""
        for name, status in self.status().items():
            if status.fields.get("role") == "leader":
                return name
        return None

    def wait_for_leader(self, timeout_s: float | None = None) -> str:
        """Wait until the running members agree on one leader; returns its name (on a
        timeout, the ServerError carries the tail of every member's log)."""
        found: list[str] = []

        def agreed() -> bool:
            leader = self._agreed_leader(self.status())
            found[:] = [] if leader is None else [leader]
            return leader is not None

        what, poll_s = self.leader_wait
        try:
            wait_until(agreed, timeout_s or self.start_timeout_s, what, poll_s)
        except ServerError as err:
            tails = "\n".join(f"--- {n}:\n{s.log_tail(8)}" for n, s in self.servers.items())
            raise ServerError(f"{err}\n{tails}") from None
        return found[0]

    def __repr__(self) -> str:
        up = sum(s.running for s in self.servers.values())
        return f"{type(self).__name__}({len(self._names)} members, {up} running, root={self.root})"
