"""Two real PostgreSQL servers as two-phase commit participants (chapter 15).

What it is: `PostgresPair`, two PostgreSQL 15 instances made with ``initdb`` in temporary
folders and started with ``pg_ctl`` on free loopback ports, each with
``max_prepared_transactions`` > 0 (PostgreSQL refuses ``PREPARE TRANSACTION`` without it).
``crash(name)`` stops one with ``-m immediate`` (no shutdown checkpoint: a crash, recovered
from its write-ahead log on restart); ``restart(name)`` starts it again. ``connect(name)``
opens a psycopg (3) connection.

PostgreSQL is the participant here: its ``PREPARE TRANSACTION 'gid'`` makes a transaction's
changes and row locks durable and detaches them from the session, exactly the participant's
"prepared" state of 2PC; ``COMMIT PREPARED`` / ``ROLLBACK PREPARED`` apply the decision from
any session; ``pg_prepared_xacts`` lists what waits for a decision.

``initdb`` refuses to run as root: as root, the servers run as the ``postgres`` user (the
package creates it). `check_postgres` says what is missing, with the package to install.
What it must never do: listen beyond loopback, or leave a server running after `close`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from distlab.engines.processes import ServerError, free_ports

__all__ = ["PG_BIN", "PostgresPair", "check_postgres"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _binary(name: str) -> str | None:
    candidate = PG_BIN / name
    if candidate.exists():
        return str(candidate)
    return shutil.which(name)


def check_postgres() -> str:
    """Say whether PostgreSQL and psycopg are here; ServerError naming what to install."""
    missing = [name for name in ("initdb", "pg_ctl") if _binary(name) is None]
    if missing:
        raise ServerError(
            f"not installed: {', '.join(missing)}. On Debian or Ubuntu: `sudo apt-get install "
            "postgresql` (the course's .ci/system-deps does it); then restart this kernel"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise ServerError("psycopg is missing: `pip install 'psycopg[binary]'`") from None
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        raise ServerError("as root, initdb needs runuser to run as the postgres user")
    return "found: PostgreSQL and psycopg -- this chapter's last section can run"


class PostgresPair:
    """Two PostgreSQL servers, ``pg0`` and ``pg1``; see the module docstring."""

    names = ("pg0", "pg1")

    def __init__(self) -> None:
        check_postgres()
        self.root = Path(tempfile.mkdtemp(prefix="distlab-pg-"))
        self.ports = dict(zip(self.names, free_ports(len(self.names)), strict=True))
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
        self.up: dict[str, bool] = {}
        try:
            for name in self.names:
                self._init(name)
                self._pg_ctl(name, "start")
        except BaseException:
            self.close()
            raise

    def _run(self, *command: str) -> None:
        argv = ["runuser", "-u", "postgres", "--", *command] if self._as_postgres else list(command)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise ServerError(f"{' '.join(command[:2])} failed: {result.stderr.strip()[-500:]}")

    def _dir(self, name: str) -> Path:
        return self.root / name

    def _init(self, name: str) -> None:
        directory = self._dir(name)
        self._run(str(_binary("initdb")), "-D", str(directory), "-A", "trust", "-U", "postgres")
        settings = (
            f"\nport = {self.ports[name]}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{directory}'\nmax_prepared_transactions = 64\n"
            "fsync = on\nshared_buffers = 16MB\n"
        )
        config = directory / "postgresql.conf"
        self._run("sh", "-c", f"cat >> {config} <<'EOF'{settings}EOF")

    def _pg_ctl(self, name: str, action: str) -> None:
        directory = self._dir(name)
        extra = ["-m", "immediate"] if action == "stop" else ["-l", str(directory / "log")]
        self._run(str(_binary("pg_ctl")), "-D", str(directory), "-w", *extra, action)
        self.up[name] = action == "start"

    def connect(self, name: str, **options: Any) -> Any:
        """A psycopg connection to ``name`` (``autocommit`` etc. as keywords)."""
        import psycopg

        return psycopg.connect(
            host="127.0.0.1",
            port=self.ports[name],
            user="postgres",
            dbname="postgres",
            connect_timeout=10,
            **options,
        )

    def crash(self, name: str) -> None:
        """Stop ``name`` without a shutdown checkpoint (``pg_ctl stop -m immediate``)."""
        self._pg_ctl(name, "stop")

    def restart(self, name: str) -> None:
        if self.up.get(name):
            self.crash(name)
        self._pg_ctl(name, "start")

    def prepared(self, name: str) -> list[str]:
        """The gids waiting for a decision in ``pg_prepared_xacts``."""
        with self.connect(name, autocommit=True) as conn:
            rows = conn.execute("SELECT gid FROM pg_prepared_xacts ORDER BY gid").fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        for name in self.names:
            if self.up.get(name):
                with contextlib.suppress(ServerError):
                    self._pg_ctl(name, "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresPair:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
