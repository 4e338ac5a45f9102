"""A toy key-value server process: availability, recoverability and replicas drifting apart.

Chapter 01 previews three lecture-1 ideas with one small program:

- 可恢复性 recoverability: a server that keeps its table only in memory loses it
  when killed; one that writes every put to non-volatile storage (非易失存储)
  before acknowledging it comes back with its data.
- 可用性 availability: even the recoverable server answers nothing while it is
  down; the outage is measured, not imagined.
- 复制 replication done naively: two copies written "when they are up" drift
  apart after one misses an update, and readers then disagree (一致性 consistency).

Each server is a real OS process killed with SIGKILL; requests and replies are
JSON over a pipe (never pickle). Chapter 05 rebuilds all of this properly on
the cluster runtime, the RPC layer and the durable log.
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distlab.demos.speedup import SPAWN
from distlab.storage import write_atomic


class Unavailable(Exception):
    """The server did not answer: it is down (or too slow), so the request was not served."""


def _serve(connection, state_file: str | None) -> None:  # runs in the server process
    table: dict[str, str] = {}
    if state_file and os.path.exists(state_file):
        with open(state_file, encoding="utf-8") as handle:
            table = json.load(handle)
    while True:
        try:
            request = json.loads(connection.recv_bytes())
        except EOFError:
            return
        if request["op"] == "put":
            table[request["key"]] = request["value"]
            if state_file:  # durable before acknowledged
                write_atomic(state_file, json.dumps(table).encode())
            reply: dict[str, Any] = {"ok": True}
        else:
            reply = {"ok": True, "value": table.get(request["key"])}
        connection.send_bytes(json.dumps(reply).encode())


class ToyServer:
    """Handle on one toy KV server process (the controller side).

    `durable=True` writes the whole table to `data_dir/table.json` atomically
    before acknowledging each put; `durable=False` keeps it in memory only.
    """

    def __init__(self, name: str, data_dir: str | Path, *, durable: bool) -> None:
        self.name = name
        self.durable = durable
        self.state_file = Path(data_dir) / f"{name}-table.json"
        self._process: Any = None  # a multiprocess Process while running
        self._pipe: Any = None

    @property
    def up(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> ToyServer:
        if self.up:
            raise RuntimeError(f"{self.name} is already running")
        parent_end, child_end = SPAWN.Pipe()
        state_file = str(self.state_file) if self.durable else None
        self._process = SPAWN.Process(target=_serve, args=(child_end, state_file), daemon=True)
        self._process.start()
        child_end.close()
        self._pipe = parent_end
        return self

    restart = start

    def crash(self) -> None:
        """SIGKILL: no goodbye, no flush. What was only in memory is gone."""
        if not self.up:
            raise RuntimeError(f"{self.name} is not running")
        os.kill(self._process.pid, signal.SIGKILL)
        self._process.join()
        self._pipe.close()
        self._process = self._pipe = None

    def close(self) -> None:
        if self.up:
            self._pipe.close()  # the server sees EOF and exits
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
        self._process = self._pipe = None

    def _request(self, request: dict, timeout_s: float) -> dict:
        if not self.up:
            raise Unavailable(f"{self.name} is down")
        try:
            self._pipe.send_bytes(json.dumps(request).encode())
            if not self._pipe.poll(timeout_s):
                raise Unavailable(f"{self.name} did not answer within {timeout_s} s")
            return json.loads(self._pipe.recv_bytes())
        except (EOFError, OSError) as error:
            raise Unavailable(f"{self.name} went away: {error}") from error

    def put(self, key: str, value: str, timeout_s: float = 5.0) -> None:
        self._request({"op": "put", "key": key, "value": value}, timeout_s)

    def get(self, key: str, timeout_s: float = 5.0) -> str | None:
        return self._request({"op": "get", "key": key}, timeout_s)["value"]

    def __enter__(self) -> ToyServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class Outage:
    """What a client saw while a server was crashed and then repaired."""

    failed_requests: int
    unavailable_s: float
    value_after_restart: str | None


def crash_and_repair(
    server: ToyServer, key: str, *, repair_after_s: float = 0.5, poll_s: float = 0.02
) -> Outage:
    """Crash `server`, restart it after `repair_after_s` (the "repair"), and poll `key`.

    The outage runs from the crash until the first request that succeeds again;
    it includes the repair time and the new process's start-up.
    """
    server.crash()
    crashed_at = time.perf_counter()
    failed = 0
    repaired = False
    while True:
        if not repaired and time.perf_counter() - crashed_at >= repair_after_s:
            server.restart()
            repaired = True
        try:
            value = server.get(key, timeout_s=poll_s * 50)
        except Unavailable:
            failed += 1
            time.sleep(poll_s)
            continue
        return Outage(failed, time.perf_counter() - crashed_at, value)


class NaiveReplicas:
    """Two (or more) copies kept in sync the naive way: write to every copy that is up.

    There is no log of missed updates and no agreement on order, so a copy that
    was down during a put stays behind forever. Reads go to one chosen copy.
    """

    def __init__(self, servers: list[ToyServer]) -> None:
        self.servers = servers

    def put(self, key: str, value: str) -> list[str]:
        """Write to every copy that answers; returns the names that took the write."""
        written = []
        for server in self.servers:
            try:
                server.put(key, value)
            except Unavailable:
                continue
            written.append(server.name)
        return written

    def read_each(self, key: str) -> dict[str, str | None]:
        """What each copy answers for `key` (what different readers would see)."""
        return {server.name: server.get(key) for server in self.servers}
