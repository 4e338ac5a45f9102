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
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

__all__ = ["ServerError", "ServerProcess", "free_ports", "require_binary", "wait_until"]

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


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
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
