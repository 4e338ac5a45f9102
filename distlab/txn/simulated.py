"""Distributed transactions in the seeded simulator: named invariants, bank sweeps, blocking.

What it is: `TxnSimSystem`, the `distlab.sim.SimSystem` of this chapter (node ``n0`` the
coordinator, ``n1 ..`` shards), its safety invariants checked after every event, and
`run_bank`, a seeded run of concurrent bank transfers (clients interleaved tick by tick)
with optional crashes of coordinator and shards. `blocked_by_coordinator` is the
experiment of the lecture: prepare, kill the coordinator, watch the participants wait.

Invariants (a violation raises `SafetyViolation` with the seed to replay):

- **Commit only what was decided**: a shard applies a commit only if the coordinator's log
  holds the decision commit for that transaction (and an abort only if it is not commit).
- **One decision**: the coordinator never logs two different decisions for one transaction.
- **Prepared keeps its locks**: every key a prepared transaction wrote is exclusively locked
  by it at its shard, until the decision.

Checked after the run: money is constant, no committed transfer is lost (its writes are in
the final data or overwritten by a later committed one), and the history is serializable
(`distlab.check.check_serializable`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from distlab.check.serializability import SerializabilityResult, Txn, check_serializable
from distlab.core import NodeId
from distlab.sim.world import SimSystem, World
from distlab.txn.bank import INITIAL_BALANCE, account, balance_of, transfer
from distlab.txn.coordinator import Coordinator, CoordinatorReady
from distlab.txn.shard import COORDINATOR, ShardCore, ShardReady

__all__ = [
    "BankRun",
    "BlockedRun",
    "SimBackend",
    "TxnLab",
    "TxnSimSystem",
    "blocked_by_coordinator",
    "run_bank",
]


class TxnSimSystem(SimSystem):
    """The coordinator and shards in a World; see the module docstring."""

    def __init__(self, *, early_release: bool = False, shard_class: type = ShardCore) -> None:
        self.early_release = early_release
        self.shard_class = shard_class
        self.coordinator_log: list[list[Any]] = []
        self.shard_disk: dict[NodeId, dict[str, Any]] = {}
        self.decisions: dict[int, bool] = {}

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        if node_id == COORDINATOR:
            return Coordinator.from_log(list(self.coordinator_log), node_id, prepare_timeout=60)
        return self.shard_class(
            node_id, self.shard_disk.get(node_id), early_release=self.early_release
        )

    def persist(self, node_id: NodeId, core: Any, ready: Any) -> None:
        if isinstance(ready, CoordinatorReady):
            for record in ready.records:
                if record[0] == "decide":
                    txid, commit = int(record[1]), bool(record[2])
                    if self.decisions.get(txid, commit) != commit:
                        self.world.violation("One decision", f"transaction {txid} decided twice")
                    self.decisions[txid] = commit
                self.coordinator_log.append(list(record))
        elif isinstance(ready, ShardReady) and ready.state is not None:
            self.shard_disk[node_id] = ready.state

    def after_event(self, node_id: NodeId, core: Any) -> None:
        if node_id == COORDINATOR:
            return
        for txid, outcome in core.finished.items():
            decided = self.decisions.get(txid)
            if outcome == "committed" and decided is not True:
                self.world.violation(
                    "Commit only what was decided",
                    f"{node_id} committed transaction {txid}; the coordinator's log says {decided}",
                )
        for txid in core.prepared():
            for key in core.txns[txid].writes:
                lock = core.locks.locks.get(key)
                if lock is None or lock.exclusive != txid:
                    self.world.violation(
                        "Prepared keeps its locks", f"{node_id} let go of {key} of prepared {txid}"
                    )

    def fields(self, core: Any) -> dict[str, Any]:
        return core.fields()

    def data(self) -> dict[str, Any]:
        """The committed data of every shard, from their disks."""
        merged: dict[str, Any] = {}
        for state in self.shard_disk.values():
            merged.update(state.get("data", {}))
        return merged


class SimBackend:
    """`distlab.txn.bank.Backend` on a World: a call to a crashed node is a ConnectionError."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.shards = tuple(world.names[1:])

    def _on(self, node: str, operation: Any) -> Any:
        if not self.world.alive(node):
            raise ConnectionError(f"{node} is down")
        return self.world.operate(node, operation)

    def begin(self) -> int | None:
        return self._on(COORDINATOR, lambda core: core.begin())

    def read(self, shard: str, txid: int, key: str, fresh: bool) -> tuple[str, Any]:
        return self._on(shard, lambda core: core.read(txid, key, fresh))

    def write(self, shard: str, txid: int, key: str, value: Any, fresh: bool) -> tuple[str, Any]:
        return self._on(shard, lambda core: core.write(txid, key, value, fresh))

    def abort(self, txid: int, participants: list[str]) -> None:
        self._on(COORDINATOR, lambda core: core.abort(txid, participants))

    def commit(self, txid: int, participants: list[str]) -> None:
        self._on(COORDINATOR, lambda core: core.commit(txid, participants))

    def outcome(self, txid: int) -> str | None:
        return self._on(COORDINATOR, lambda core: core.outcome(txid))

    def abort_quietly(self, txid: int, participants: list[str]) -> None:
        """Release what ``txid`` holds at ``participants`` (its coordinator may have presumed
        it aborted already)."""
        for shard in participants:
            self._on(shard, lambda core: core.abort(txid))


@dataclass
class BankRun:
    """What a bank run shows: the money, the history and the checker's verdict."""

    seed: int
    history: list[Txn]
    total_before: int
    total_after: int
    committed: int
    aborted: int
    unknown: int
    lost_commits: int
    check: SerializabilityResult
    crashes: list[str] = field(default_factory=list)
    ticks: int = 0

    @property
    def abort_rate(self) -> float:
        finished = self.committed + self.aborted + self.unknown
        return self.aborted / finished if finished else 0.0


def run_bank(
    seed: int,
    *,
    shards: int = 2,
    accounts: int = 4,
    clients: int = 3,
    transfers: int = 30,
    crashes: bool = False,
    early_release: bool = False,
    skew: float = 0.0,
    shard_class: type = ShardCore,
) -> BankRun:
    """Concurrent seeded transfers; ``crashes``: a node is killed (and restarted a little
    later) now and then; ``skew``: the chance a transfer picks from the two hottest accounts."""
    rng = random.Random(seed)
    system = TxnSimSystem(early_release=early_release, shard_class=shard_class)
    world = World(system, seed=seed, nodes=shards + 1)
    backend = SimBackend(world)
    history: list[Txn] = []
    running: list[Any] = []
    started = 0
    down: dict[str, int] = {}
    crash_log: list[str] = []
    for tick in range(20000):
        while len(running) < clients and started < transfers:
            pool = 2 if rng.random() < skew else accounts
            src, dst = rng.sample(range(pool), 2)
            job = (account(src), account(dst), rng.randint(1, 20))
            running.append(_retrying(backend, job, history))
            started += 1
        for generator in list(running):
            try:
                next(generator)
            except StopIteration:
                running.remove(generator)
        if not running and started >= transfers:
            break
        if crashes and not down and rng.random() < 0.02:
            victim = rng.choice(world.names)
            world.crash(victim)
            down[victim] = tick + rng.randint(5, 60)
            crash_log.append(f"t={world.now} crash {victim}")
        for node, back in list(down.items()):
            if tick >= back:
                world.restart(node)
                del down[node]
                crash_log.append(f"t={world.now} restart {node}")
        world.run_for(1)
    for node in list(down):
        world.restart(node)
    # let every decision reach every participant
    world.run_until(
        lambda: all(not world.nodes[s].prepared() for s in world.names[1:]), max_ticks=5000
    )
    data = system.data()
    total_after = sum(balance_of(data.get(account(i)))[0] for i in range(accounts))
    return BankRun(
        seed=seed,
        history=history,
        total_before=INITIAL_BALANCE * accounts,
        total_after=total_after,
        committed=sum(t.status == "ok" for t in history),
        aborted=sum(t.status == "fail" for t in history),
        unknown=sum(t.status == "info" for t in history),
        lost_commits=_lost_commits(history, data),
        check=check_serializable(history),
        crashes=crash_log,
        ticks=world.now,
    )


def _retrying(backend: SimBackend, job: tuple[str, str, int], history: list[Txn]) -> Any:
    """A client: the transfer, retried as a new transaction after an abort (10 tries)."""
    for attempt in range(10):
        txn = yield from transfer(backend, *job)
        if txn is not None:
            history.append(txn)
        if txn is not None and txn.status != "fail":
            return
        for _ in range(3 * (attempt + 1)):  # back off: the older transaction gets through
            yield


def _lost_commits(history: list[Txn], data: dict[str, Any]) -> int:
    """Committed transfers whose write is neither in the data nor overwritten by a later
    committed write (later: its writer read this one's value, directly or down a chain)."""
    successors: dict[tuple[str, Any], Any] = {}
    for txn in history:
        if txn.status == "ok":
            for op in txn.ops:
                if op[0] == "r":
                    successors[(op[1], op[2])] = txn.id
    lost = 0
    for txn in history:
        if txn.status != "ok":
            continue
        for op in txn.ops:
            if op[0] != "w":
                continue
            version: Any = op[2]
            seen: set[Any] = set()
            while (op[1], version) in successors and version not in seen:
                seen.add(version)
                version = successors[(op[1], version)]
            if balance_of(data.get(op[1]))[1] != version:
                lost += 1
                break
    return lost


@dataclass
class BlockedRun:
    """The blocking experiment: what the shards held while the coordinator was down."""

    txid: int
    prepared_while_down: dict[str, list[int]]
    locks_while_down: dict[str, dict[str, str]]
    other_waits: int
    blocked_ticks: int
    outcome_after_restart: str
    prepared_after_restart: dict[str, list[int]]
    total_after: int


def blocked_by_coordinator(seed: int = 0, down_ticks: int = 200) -> BlockedRun:
    """Prepare a transfer on two shards, kill the coordinator before it hears the votes,
    let another transfer try the same account while it is down, then restart it."""
    system = TxnSimSystem()
    world = World(system, seed=seed, nodes=3)
    backend = SimBackend(world)
    src, dst = account(0), account(1)
    shards = {backend.shards.index(s) for s in (_shard(src, backend), _shard(dst, backend))}
    if len(shards) != 2:  # pick two accounts on different shards
        dst = next(
            account(i) for i in range(2, 50) if _shard(account(i), backend) != _shard(src, backend)
        )
    older = backend.begin()  # another transaction, older: under wait-die it waits
    assert older is not None
    first = transfer(backend, src, dst, 10)
    for shard in backend.shards:
        world.block(shard, COORDINATOR)  # the votes will not arrive: the coordinator waits
    while True:
        next(first)
        if all(world.nodes[s].prepared() for s in backend.shards):
            break
        world.run_for(1)
    txid = world.nodes[backend.shards[0]].prepared()[0]
    world.crash(COORDINATOR)
    world.heal()
    src_shard = _shard(src, backend)
    other_waits = 0
    blocked = 0
    for _ in range(down_ticks):  # the older transaction asks for acct0, again and again
        answer, _value = backend.read(src_shard, older, src, True)
        if answer != "wait":
            break
        other_waits += 1
        world.run_for(1)
        blocked += 1
    prepared_down = {s: world.nodes[s].prepared() for s in backend.shards}
    locks_down = {s: world.nodes[s].locks.held() for s in backend.shards}
    world.restart(COORDINATOR)
    world.run_until(lambda: all(not world.nodes[s].prepared() for s in backend.shards), 2000)
    # the older transaction's reads go through now (the coordinator presumed it aborted too)
    backend.abort_quietly(older, [src_shard])
    again = transfer(backend, src, dst, 5)
    for _ in range(20000):
        try:
            next(again)
        except StopIteration:
            break
        world.run_for(1)
    world.run_until(lambda: all(not world.nodes[s].prepared() for s in backend.shards), 2000)
    outcome = world.nodes[COORDINATOR].outcome(txid)
    data = system.data()
    return BlockedRun(
        txid=txid,
        prepared_while_down=prepared_down,
        locks_while_down=locks_down,
        other_waits=other_waits,
        blocked_ticks=blocked,
        outcome_after_restart=outcome,
        prepared_after_restart={s: world.nodes[s].prepared() for s in backend.shards},
        total_after=sum(balance_of(data.get(account(i)))[0] for i in range(50)),
    )


def _shard(key: str, backend: SimBackend) -> str:
    from distlab.txn.bank import shard_for

    return shard_for(key, backend.shards)


class TxnLab:
    """A live simulated system for the notebook and the panel: clients keep transferring
    money while you crash nodes; every call advances virtual time (see `TxnPanel`)."""

    def __init__(
        self, seed: int = 0, *, shards: int = 2, accounts: int = 4, clients: int = 3
    ) -> None:
        self.rng = random.Random(seed)
        self.system = TxnSimSystem()
        self.world = World(self.system, seed=seed, nodes=shards + 1)
        self.backend = SimBackend(self.world)
        self.accounts = accounts
        self.clients = clients
        self.history: list[Txn] = []
        self._running: list[Any] = []
        self._held: int | None = None

    def run(self, ticks: int = 100) -> None:
        """Let ``ticks`` of virtual time pass with the clients transferring."""
        for _ in range(ticks):
            while len(self._running) < self.clients:
                src, dst = self.rng.sample(range(self.accounts), 2)
                job = (account(src), account(dst), self.rng.randint(1, 20))
                self._running.append(_retrying(self.backend, job, self.history))
            for generator in list(self._running):
                try:
                    next(generator)
                except StopIteration:
                    self._running.remove(generator)
            self.world.run_for(1)

    def crash(self, node: str) -> None:
        self.world.crash(node)

    def restart(self, node: str) -> None:
        self.world.restart(node)
        self.world.heal()

    def prepare_and_kill_coordinator(self) -> int:
        """Block the votes, let the clients run until some transaction is prepared on a
        shard, then crash the coordinator: that shard is blocked. Returns the txid."""
        for shard in self.backend.shards:
            self.world.block(shard, COORDINATOR)
        for _ in range(2000):
            self.run(1)
            prepared = [t for s in self.backend.shards for t in self.world.nodes[s].prepared()]
            if prepared:
                self.world.crash(COORDINATOR)
                return prepared[0]
        raise RuntimeError("no transaction prepared")  # pragma: no cover - seeded: it does

    def cards(self) -> dict[str, dict[str, Any]]:
        """What each node shows: a shard's data, locks and prepared transactions; the
        coordinator's log tail. A crashed node shows ``{"down": True}`` and its disk."""
        cards: dict[str, dict[str, Any]] = {}
        for name in self.world.names:
            core = self.world.nodes[name]
            if name == COORDINATOR:
                card: dict[str, Any] = {
                    "role": "coordinator",
                    "log": self.system.coordinator_log[-6:],
                }
            else:
                disk = self.system.shard_disk.get(name, {"data": {}, "prepared": {}})
                card = {
                    "role": "shard",
                    "data": {k: balance_of(v)[0] for k, v in sorted(disk["data"].items())},
                }
            if core is None:
                card["down"] = True
            else:
                card.update(core.fields())
            cards[name] = card
        return cards

    def total(self) -> int:
        """The money: committed balances, with the writes of transactions decided commit
        but still prepared at some shard counted as done (their decision is on its way)."""
        data = self.system.data()
        for state in self.system.shard_disk.values():
            for txid, writes in state.get("prepared", {}).items():
                if self.system.decisions.get(int(txid)) is True:
                    data.update(writes)
        return sum(balance_of(data.get(account(i)))[0] for i in range(self.accounts))

    def check(self) -> SerializabilityResult:
        return check_serializable(self.history)
