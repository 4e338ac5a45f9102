"""Redis on loopback: a primary and two replicas with asynchronous replication (主从复制).

`RedisReplicaSet.start()` runs Debian's ``redis-server`` three times on 127.0.0.1: ``n0``
is the primary, ``n1`` and ``n2`` replicate from it. Persistence is off (``save ""``,
no AOF): a crashed Redis comes back empty, as a cache-style deployment would, so the only
copies of a write are the replicas'.

Replication is asynchronous (异步复制): the primary acknowledges a write as soon as it
has applied it, then streams it to the replicas. So a replica can serve a stale read (陈旧读),
and if the primary dies before streaming a write, that acknowledged write is gone after
failover (故障转移). Each replica reaches its primary through a `LinkProxy`, so
``partition`` can cut a replication link (the replica keeps serving its old data, as Redis
does by default with ``replica-serve-stale-data yes``) without root.

Failover is **by hand**: `promote(name)` sends ``REPLICAOF NO ONE`` to a replica and points
the other replicas at it — what an operator or Redis Sentinel would do. ``crash`` is
kill -9; ``restart`` brings a member back empty, as a replica of the current primary.

`RedisClient` uses redis-py's low-level ``Connection`` (one socket, no automatic retries)
so each command has one clear outcome: refused on connect or rejected by Redis is
definite; a timeout or a connection broken after sending is indefinite.
Never prints; never binds anything but 127.0.0.1; `close()` kills every member.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from distlab.engines.base import EngineError
from distlab.engines.processes import (
    HOST,
    ServerEngine,
    ServerError,
    ServerProcess,
    free_ports,
    wait_until,
)
from distlab.engines.proxy import LinkProxy

__all__ = ["RedisClient", "RedisReplicaSet"]


class RedisClient:
    """One connection to one Redis server (not thread-safe: one per thread)."""

    def __init__(self, address: tuple[str, int], *, timeout_s: float = 2.0) -> None:
        from redis import Connection
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.address = address
        self.timeout_s = timeout_s
        self._conn = Connection(
            host=address[0],
            port=address[1],
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),  # one attempt: a retried APPEND could apply twice
            decode_responses=True,
        )

    def put(self, key: str, value: str) -> None:
        self.command("SET", key, value, write=True)

    def get(self, key: str) -> str:
        return self.command("GET", key, write=False) or ""

    def append(self, key: str, suffix: str) -> None:
        self.command("APPEND", key, suffix, write=True)

    def info(self, section: str = "replication") -> dict[str, Any]:
        """``INFO section`` as a dict (e.g. role, master_repl_offset, master_link_status)."""
        text = self.command("INFO", section, write=False)
        fields = {}
        for line in str(text).splitlines():
            if ":" in line and not line.startswith("#"):
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
        return fields

    def command(self, *args: Any, write: bool = True) -> Any:
        """Send one command and read its reply, classifying failures for the history."""
        import redis

        name = args[0]
        try:
            self._conn.connect()  # no-op when already connected
        except (redis.ConnectionError, redis.TimeoutError) as err:
            raise EngineError(
                f"{name}: cannot connect to {self.address}: {err}", definite=True
            ) from err
        try:
            self._conn.send_command(*args)
            return self._conn.read_response()
        except redis.ResponseError as err:
            # Redis rejected the command (READONLY, wrong type...): it did not run.
            raise EngineError(f"{name}: {err}", definite=True) from err
        except (redis.ConnectionError, redis.TimeoutError, OSError) as err:
            self._conn.disconnect()
            raise EngineError(f"{name}: {type(err).__name__}: {err}", definite=not write) from err

    def close(self) -> None:
        self._conn.disconnect()

    def __repr__(self) -> str:
        return f"RedisClient({self.address[0]}:{self.address[1]})"


class RedisReplicaSet(ServerEngine):
    """One Redis primary and ``replicas`` replicas on loopback. Use `start`::

    with RedisReplicaSet.start() as rs:
        rs.client("n0").append("x", "a;")        # acknowledged by the primary
        rs.client("n1").get("x")                 # may still be "" on a replica
        rs.crash("n0"); rs.promote("n1")         # failover by hand
    """

    system = "redis"

    def __init__(
        self,
        replicas: int = 2,
        *,
        root: str | Path | None = None,
        start_timeout_s: float = 20.0,
    ) -> None:
        names = [f"n{i}" for i in range(replicas + 1)]
        super().__init__("redis-server", names, root, start_timeout_s)
        self.ports = dict(zip(self._names, free_ports(len(self._names)), strict=True))
        self.primary = self._names[0]
        # A replica's link to its primary goes through its own proxy (so it can be cut).
        self.proxies = {
            name: LinkProxy((HOST, self.ports[self.primary]), name=f"redis-{name}-link")
            for name in self._names
        }
        self.servers = {
            name: ServerProcess(name, [], self.root / f"{name}.log") for name in self._names
        }

    @classmethod
    def start(cls, replicas: int = 2, **options: Any) -> RedisReplicaSet:
        """Start the primary and the replicas, and wait until both replicas are in sync."""
        return cls._started(replicas, **options)

    def _boot(self) -> str:
        for name in self._names:
            self._launch(name)
        self.wait_for_replicas()
        return f"primary {self.primary}, {len(self._names) - 1} replicas"

    def _launch(self, name: str) -> None:
        (self.root / name).mkdir(exist_ok=True)
        command = [
            self._binary,
            "--port", str(self.ports[name]),
            "--bind", HOST,
            "--dir", str(self.root / name),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "no",
            "--logfile", "",
            "--repl-diskless-sync", "yes",
            "--repl-diskless-sync-delay", "0",
            "--replica-serve-stale-data", "yes",
        ]  # fmt: skip
        if name != self.primary:
            command += ["--replicaof", HOST, str(self.proxies[name].port)]
        server = self.servers[name]
        server.command = command
        server.start()
        wait_until(lambda: self._ping(name), self.start_timeout_s, f"redis {name} to answer")

    def _ping(self, name: str) -> bool:
        client = RedisClient(self.address(name), timeout_s=0.5)
        try:
            return client.command("PING", write=False) in (True, "PONG")
        except EngineError:
            return False
        finally:
            client.close()

    # ----- the Engine interface (the rest is ServerEngine's) -----------------------------

    @property
    def replicas(self) -> list[str]:
        """Members that are not the current primary."""
        return [name for name in self._names if name != self.primary]

    def address(self, name: str) -> tuple[str, int]:
        self._check_member(name)
        return (HOST, self.ports[name])

    def client(self, name: str, *, timeout_s: float = 2.0) -> RedisClient:
        return RedisClient(self.address(name), timeout_s=timeout_s)

    def restart(self, name: str) -> None:
        """Start a crashed member again: empty (no persistence), as a replica of the primary."""
        self._check_crashed(name)
        if name == self.primary:
            raise ServerError(
                f"{name} is still the primary; promote a replica first (a restarted Redis "
                "without persistence would come back empty and replicate that emptiness)"
            )
        self.proxies[name].retarget((HOST, self.ports[self.primary]))
        self._launch(name)
        self._record("restart", name, f"as replica of {self.primary}")

    def _cut(self, sides: list[set[str]]) -> None:
        """A partition cuts the replication link of every replica not on the primary's side."""
        primary_side = next((s for s in sides if self.primary in s), set())
        for name in self.replicas:
            if name not in primary_side:
                self.proxies[name].cut()

    def promote(self, name: str) -> None:
        """Failover by hand: ``REPLICAOF NO ONE`` on ``name``; the other replicas follow it."""
        self._check_member(name)
        client = self.client(name)
        try:
            client.command("REPLICAOF", "NO", "ONE")
        finally:
            client.close()
        old, self.primary = self.primary, name
        for other in self.replicas:
            self.proxies[other].retarget((HOST, self.ports[name]))
            if other != old and self.servers[other].running:
                link = self.client(other)
                try:
                    link.command("REPLICAOF", HOST, str(self.proxies[other].port))
                finally:
                    link.close()
        self._record("promote", name, f"REPLICAOF NO ONE (by hand); was {old}")

    def _probe(self, client: Any) -> dict[str, Any]:
        """Role "primary" or "replica", replication offset and link state."""
        info = client.info()
        return {
            "role": "primary" if info.get("role") == "master" else "replica",
            "offset": int(info.get("master_repl_offset", 0)),
            "link": info.get("master_link_status", "-"),
        }

    def wait_for_replicas(self, timeout_s: float | None = None) -> None:
        """Wait until every running replica's link is up and its offset matches the primary's."""

        def in_sync() -> bool:
            statuses = self.status()
            primary = statuses[self.primary]
            replicas = [statuses[n] for n in self.replicas if self.servers[n].running]
            return primary.alive and all(
                r.alive
                and r.fields.get("link") == "up"
                and r.fields.get("offset") == primary.fields.get("offset")
                for r in replicas
            )

        wait_until(in_sync, timeout_s or self.start_timeout_s, "the Redis replicas to sync", 0.05)

    def __repr__(self) -> str:
        return f"RedisReplicaSet(primary={self.primary}, replicas={self.replicas})"
