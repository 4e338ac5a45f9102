"""Distributed transactions in real processes: one program, two roles by node name.

What it is: `TxnProcess`, a `distlab.cluster.CoreNode` running the same pure cores as the
simulator. Node ``n0`` is the coordinator (`distlab.txn.coordinator.Coordinator`): its log
is a `distlab.storage.DurableLog` (checksummed, fsync'ed before any message leaves), so a
SIGKILLed coordinator restarts from it. Nodes ``n1 ..`` are shards
(`distlab.txn.shard.ShardCore`): committed data and prepared transactions are written whole
with `write_snapshot` (fsync'ed) before a vote leaves, so a SIGKILLed participant restarts
still prepared, still holding its locks, and asks the coordinator.

RPCs: ``Txn.shard_map / begin / commit / abort / outcome`` at ``n0`` (the shard map is
the list of shards; `distlab.txn.bank.shard_for` hashes a key onto it);
``Shard.read / write / abort / data`` at a shard. `RealBackend` is
`distlab.txn.bank.Backend` over them (what ``cluster.client()`` returns), so
`run_bank_real` runs the simulator's bank transfers in threads against real processes: a
call to a killed node is a `ConnectionError`; a commit whose answer was lost is
*indefinite* (``info`` in the history).
Options: ``early_release`` (the teaching switch of `distlab.txn.locks`). Ticks are 20 ms.
What it must never do: print, or send a vote or a decision before it is on disk.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass
from typing import Any

from distlab.check.serializability import SerializabilityResult, Txn, check_serializable
from distlab.cluster.core_node import CoreNode
from distlab.cluster.program import NodeContext
from distlab.core import Core, Ready
from distlab.rpc import RemoteError, RpcError
from distlab.storage import DurableLog, read_snapshot, write_snapshot
from distlab.txn.bank import INITIAL_BALANCE, account, balance_of, transfer
from distlab.txn.coordinator import Coordinator, CoordinatorReady
from distlab.txn.messages import CODEC
from distlab.txn.shard import COORDINATOR, ShardCore, ShardReady

__all__ = ["RealBackend", "RealBankRun", "TxnProcess", "run_bank_real"]

MAX_KEY_BYTES = 256


class TxnProcess(CoreNode):
    """The coordinator (``n0``) or a shard (``n1 ..``) in a real process."""

    codec = CODEC
    tick_ms = 20.0

    def __init__(self, ctx: NodeContext) -> None:
        self.is_coordinator = ctx.name == COORDINATOR
        self.early_release = bool(ctx.options.get("early_release", False))
        self.log_file: DurableLog | None = None
        super().__init__(ctx)

    def boot(self) -> Core:
        if self.is_coordinator:
            self.log_file = DurableLog(self.ctx.data_dir / "decisions.log")
            records = [json.loads(r) for r in self.log_file.records()]
            # 5 s to collect votes (room for a loaded machine); decisions resent every 200 ms
            return Coordinator.from_log(
                records, self.ctx.name, prepare_timeout=250, resend_ticks=10
            )
        raw = read_snapshot(self.ctx.data_dir / "shard.snap")
        state = json.loads(raw) if raw else None
        return ShardCore(self.ctx.name, state, early_release=self.early_release)

    def persist(self, ready: Ready) -> None:
        if isinstance(ready, CoordinatorReady) and ready.records and self.log_file is not None:
            self.log_file.extend(json.dumps(r).encode() for r in ready.records)
            if any(record[0] != "end" for record in ready.records):
                self.log_file.sync()  # ends alone may wait for the next fsync (see coordinator)
        elif isinstance(ready, ShardReady) and ready.state is not None:
            write_snapshot(self.ctx.data_dir / "shard.snap", json.dumps(ready.state).encode())

    def services(self) -> dict[str, object]:
        own = _CoordinatorRPC(self) if self.is_coordinator else _ShardRPC(self)
        return {("Txn" if self.is_coordinator else "Shard"): own, **super().services()}

    def status(self) -> dict[str, Any]:
        with self.lock:
            fields = dict(self.core.fields())  # type: ignore[attr-defined]
        fields["role"] = "coordinator" if self.is_coordinator else "shard"
        return fields

    def close(self) -> None:
        super().close()
        if self.log_file is not None:
            self.log_file.close()

    @classmethod
    def client_for(cls, cluster: Any, **options: Any) -> RealBackend:
        return RealBackend(cluster, **options)


def _txid(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"a transaction id is a positive integer, got {value!r}")
    return value


def _key(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value.encode()) > MAX_KEY_BYTES:
        raise ValueError(f"a key is a non-empty string of at most {MAX_KEY_BYTES} bytes")
    return value


def _shards(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise ValueError(f"participants must be a list of shard names, got {value!r}")
    return value


class _CoordinatorRPC:
    def __init__(self, node: TxnProcess) -> None:
        self._node = node

    def begin(self) -> int:
        return self._node.run(lambda core: core.begin())

    def shard_map(self) -> list[str]:
        """The shards, in order: a key lives on ``shard_for(key, shards)``."""
        return sorted(self._node.ctx.peers, key=lambda name: int(name[1:]))

    def commit(self, txid: int, participants: list[str]) -> None:
        txid, shards = _txid(txid), _shards(participants)
        unknown = set(shards) - set(self._node.ctx.peers)
        if unknown:
            raise ValueError(f"no such shards: {sorted(unknown)}")
        self._node.run(lambda core: core.commit(txid, shards))

    def abort(self, txid: int, participants: list[str]) -> None:
        txid, shards = _txid(txid), _shards(participants)
        self._node.run(lambda core: core.abort(txid, shards))

    def outcome(self, txid: int) -> str:
        txid = _txid(txid)
        return self._node.run(lambda core: core.outcome(txid))


class _ShardRPC:
    def __init__(self, node: TxnProcess) -> None:
        self._node = node

    def read(self, txid: int, key: str, fresh: bool = True) -> list[Any]:
        txid, key = _txid(txid), _key(key)
        return list(self._node.run(lambda core: core.read(txid, key, bool(fresh))))

    def write(self, txid: int, key: str, value: Any, fresh: bool = True) -> list[Any]:
        txid, key = _txid(txid), _key(key)
        return list(self._node.run(lambda core: core.write(txid, key, value, bool(fresh))))

    def abort(self, txid: int) -> None:
        txid = _txid(txid)
        self._node.run(lambda core: core.abort(txid))

    def data(self) -> dict[str, Any]:
        return self._node.run(lambda core: dict(core.data))


class RealBackend:
    """`distlab.txn.bank.Backend` over a real cluster's RPCs (thread-safe: a client per
    thread and node)."""

    def __init__(self, cluster: Any, timeout_s: float = 3.0) -> None:
        self.cluster = cluster
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self.shards = tuple(self._call(COORDINATOR, "Txn.shard_map"))  # read once: static

    def _call(self, node: str, method: str, *args: Any) -> Any:
        clients = self._local.__dict__.setdefault("clients", {})
        if node not in clients:
            with self._lock:
                name = f"txn-{threading.get_ident() % 100000}-{node}"
                clients[node] = self.cluster.client(node, client_name=name)
        try:
            return clients[node].call(method, *args, timeout=self.timeout_s)
        except RemoteError as error:
            if error.type_name in ("TransactionClosed", "UnknownTransaction"):
                raise RuntimeError(error.remote_message) from None
            raise
        except RpcError as error:
            raise ConnectionError(f"{node}: {error}") from None

    def begin(self) -> int | None:
        return int(self._call(COORDINATOR, "Txn.begin"))

    def read(self, shard: str, txid: int, key: str, fresh: bool) -> tuple[str, Any]:
        answer, value = self._call(shard, "Shard.read", txid, key, fresh)
        return answer, value

    def write(self, shard: str, txid: int, key: str, value: Any, fresh: bool) -> tuple[str, Any]:
        answer, _ = self._call(shard, "Shard.write", txid, key, value, fresh)
        return answer, None

    def abort(self, txid: int, participants: list[str]) -> None:
        self._call(COORDINATOR, "Txn.abort", txid, list(participants))

    def commit(self, txid: int, participants: list[str]) -> None:
        self._call(COORDINATOR, "Txn.commit", txid, list(participants))

    def outcome(self, txid: int) -> str | None:
        try:
            return str(self._call(COORDINATOR, "Txn.outcome", txid))
        except RuntimeError:
            return None

    def data(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for shard in self.shards:
            merged.update(self._call(shard, "Shard.data"))
        return merged

    def close(self) -> None:
        """The cluster closes the connections it handed out."""


@dataclass
class RealBankRun:
    """A bank run on real processes: money, history, verdict, what was killed."""

    history: list[Txn]
    total_before: int
    total_after: int
    committed: int
    aborted: int
    unknown: int
    check: SerializabilityResult
    crashed: list[str]
    seconds: float


def run_bank_real(
    cluster: Any,
    *,
    seed: int = 0,
    clients: int = 3,
    accounts: int = 4,
    transfers_per_client: int = 10,
    kill: tuple[str, ...] = (),
    pause_s: float = 0.002,
) -> RealBankRun:
    """Threads of bank transfers against ``cluster``; the nodes in ``kill`` are SIGKILLed
    one after the other while the clients run (and restarted), each once a quarter of the
    transfers are done. ``pause_s``: how long a client backs off when it must wait (a lock
    held by a younger transaction, a decision not yet known)."""
    backend = RealBackend(cluster)
    history: list[Txn] = []
    done = [0]
    lock = threading.Lock()
    total = clients * transfers_per_client

    def client(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        for _ in range(transfers_per_client):
            src, dst = rng.sample(range(accounts), 2)
            for attempt in range(20):
                result = _drive(
                    transfer(backend, account(src), account(dst), rng.randint(1, 20)), pause_s
                )
                if result is not None:
                    with lock:
                        history.append(result)
                if result is not None and result.status != "fail":
                    break
                time.sleep(0.005 * 2 ** min(attempt, 7) * rng.random())  # back off before retrying
            with lock:
                done[0] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    crashed: list[str] = []
    for step, victim in enumerate(kill, start=1):
        cluster.wait_for(lambda s=step: done[0] >= total * s // (len(kill) + 2), timeout_s=60)
        cluster.crash(victim)
        crashed.append(victim)
        cluster.restart(victim)
    for thread in threads:
        thread.join(timeout=120)
    seconds = time.monotonic() - started
    cluster.wait_for(lambda: _quiet(cluster), timeout_s=30)
    data = backend.data()
    return RealBankRun(
        history=history,
        total_before=INITIAL_BALANCE * accounts,
        total_after=sum(balance_of(data.get(account(i)))[0] for i in range(accounts)),
        committed=sum(t.status == "ok" for t in history),
        aborted=sum(t.status == "fail" for t in history),
        unknown=sum(t.status == "info" for t in history),
        check=check_serializable(history),
        crashed=crashed,
        seconds=seconds,
    )


def _drive(generator: Any, pause_s: float) -> Txn | None:
    """Run a transfer in this thread: each time it must wait, back off ``pause_s``."""
    while True:
        try:
            next(generator)
        except StopIteration as stop:
            return stop.value
        time.sleep(pause_s)


def _quiet(cluster: Any) -> bool:
    """No shard holds a prepared transaction any more."""
    status = cluster.status()
    return all(
        not view.fields.get("prepared") for name, view in status.items() if name != COORDINATOR
    )
