"""The chapter's experiments in the seeded simulator: each a function, a seed, a small result.

- `workload_under_faults(seed)`: clients set, get and sync znodes on a 3-server service while a
  seeded schedule crashes, partitions and pauses servers; the run's `CoordVerdict` (writes
  linearizable, FIFO order, reads match a state), acknowledged writes lost, ephemeral znodes.
- `stale_read(seed)`: a server cut off from the leader answers an old value; ``sync`` then
  read answers the new one. ZooKeeper's checker accepts the run, linearizability does not.
- `herd(lock, clients)`: watch notifications per lock acquisition, the naive lock against
  the herd-free one.
- `locks_under_crashes(seed)`: the herd-free lock while servers crash: never two holders.
- `fencing(seed, check_tokens)`: a holder paused past its session timeout writes after the
  next holder -- accepted without fencing tokens, refused with them.

What it must never do: read the wall clock; every choice comes from the seed.
"""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass
from typing import Any

from kazoo.exceptions import KazooException, NoNodeError

from distlab.check.coordination import (
    CoordHistory,
    CoordVerdict,
    check_coordination,
    check_fenced_writes,
    to_kv_history,
)
from distlab.check.linearizability import check_linearizable
from distlab.coord.recipes import FencedResource, Lock, LockLost, NaiveLock
from distlab.coord.simulated import CoordSimulation, SimClients, SimCoordClient, coord_world
from distlab.core import derive_seed

__all__ = [
    "FencingResult",
    "HerdResult",
    "StaleReadResult",
    "WorkloadResult",
    "fencing",
    "herd",
    "locks_under_crashes",
    "stale_read",
    "workload_under_faults",
]


def _ready_world(seed: int, nodes: int = 3) -> tuple[CoordSimulation, SimClients]:
    world = coord_world(seed, nodes)
    world.check_one_leader()
    return world, SimClients(world)


@dataclass(frozen=True)
class WorkloadResult:
    seed: int
    verdict: CoordVerdict
    operations: int
    acknowledged_writes_lost: int
    ephemerals_left_by_expired_sessions: int
    faults: tuple[str, ...]


def workload_under_faults(
    seed: int,
    *,
    clients: int = 4,
    operations: int = 40,
    faults: bool = True,
    client_cls: type[SimCoordClient] | None = None,
) -> WorkloadResult:
    """Random set/get/sync on a few znodes, a seeded fault schedule beside (module docstring)."""
    world, runner = _ready_world(seed)
    history = CoordHistory(clock=world.history_clock())
    rng = random.Random(derive_seed(seed, "coord-workload"))
    paths = ["/a", "/b"]
    setup = runner.client(server="n0", client_id="setup", history=history)
    setup.start()
    for path in paths:
        setup.create(path, b"")
    sessions: list[SimCoordClient] = []

    def work(client: SimCoordClient, number: int) -> None:
        client.start()
        client.create(f"/eph-{number}", b"", ephemeral=True)
        choices = random.Random(derive_seed(seed, "client", number))
        for step in range(operations):
            path = choices.choice(paths)
            roll = choices.random()
            try:
                if roll < 0.45:
                    client.set(path, f"{client.name}-{step}".encode())
                elif roll < 0.9:
                    client.get(path)
                else:
                    client.sync(path)
            except KazooException:
                if client.expired:
                    return

    for number in range(clients):
        client = runner.client(
            server=f"n{number % 3}",
            cls=client_cls,
            client_id=f"c{number}",
            history=history,
            timeout=1.0,
        )
        sessions.append(client)
        runner.spawn(client.name, work, client, number)
    done_faults: list[str] = []
    if faults:
        schedule = _schedule(rng, world)

        def nemesis() -> bool:
            while schedule and schedule[0][0] <= world.now:
                _, name, action = schedule.pop(0)
                action()
                done_faults.append(f"t={world.now} {name}")
            return False

        runner.run(3000, until=lambda: nemesis() or all(t.done for t in runner.tasks))
    world.heal()
    for node_id in world.node_ids:
        if not world.alive(node_id):
            world.restart(node_id)
        elif world.paused(node_id):
            world.resume(node_id)
    runner.run(6000)
    # The end: after a sync, what does the service hold? (a read the checker judges too)
    final = runner.client(server="n0", client_id="final", history=history)

    def read_back() -> None:
        final.start()
        final.sync("/")
        for path in paths:
            final.get(path)

    runner.spawn("final", read_back)
    runner.run(3000)
    verdict = check_coordination(history)
    lost = _acknowledged_writes_lost(history, paths)
    # Sessions of clients that stopped without closing expire: their ephemerals must go.
    runner.run(300)
    tree = world.servers["n0"].tree
    left = sum(1 for owner in tree.ephemerals().values() if owner not in tree.sessions)
    return WorkloadResult(seed, verdict, len(history), lost, left, tuple(done_faults))


def _schedule(rng: random.Random, world: CoordSimulation) -> list[tuple[int, str, Any]]:
    events: list[tuple[int, str, Any]] = []
    at = world.now
    for _ in range(4):
        at += rng.randint(10, 40)
        victim = rng.choice(world.node_ids)
        kind = rng.choice(["crash", "partition", "pause"])
        if kind == "crash":
            events += [(at, f"crash {victim}", lambda v=victim: world.crash(v))]
            events += [(at + 40, f"restart {victim}", lambda v=victim: world.restart(v))]
        elif kind == "partition":
            events += [(at, f"isolate {victim}", lambda v=victim: world.isolate(v))]
            events += [(at + 40, "heal", world.heal)]
        else:
            events += [(at, f"pause {victim}", lambda v=victim: world.pause(v))]
            events += [(at + 30, f"resume {victim}", lambda v=victim: world.resume(v))]
        at += 45
    return events


def _acknowledged_writes_lost(history: CoordHistory, paths: list[str]) -> int:
    """Paths whose final read (client "final") is not the last acknowledged write there."""
    ops = history.operations()
    lost = 0
    for path in paths:
        writes = [o for o in ops if o.path == path and o.kind == "set" and o.status == "ok"]
        maybe = {o.value for o in ops if o.path == path and o.kind == "set" and o.status == "info"}
        finals = [o for o in ops if o.client == "final" and o.path == path and o.kind == "get"]
        if not writes or not finals or finals[-1].status != "ok":
            continue
        last = max(writes, key=lambda o: o.zxid or 0)
        if finals[-1].output != last.value and finals[-1].output not in maybe:
            lost += 1
    return lost


@dataclass(frozen=True)
class StaleReadResult:
    before: str
    stale: str
    after_sync: str
    zookeeper_guarantees: bool
    linearizable: bool


def stale_read(seed: int = 1) -> StaleReadResult:
    """Cut a follower off, write on the majority, read on the follower, then sync and read."""
    world, runner = _ready_world(seed)
    history = CoordHistory(clock=world.history_clock())
    leader = next(n for n in world.node_ids if world.nodes[n].role.value == "leader")
    follower = next(n for n in world.node_ids if n != leader)
    writer = runner.client(server=leader, client_id="writer", history=history)
    reader = runner.client(server=follower, client_id="reader", history=history, timeout=3.0)
    seen: dict[str, str] = {}

    def scenario() -> None:
        writer.start()
        reader.start()
        writer.create("/config", b"v1")
        reader.sync("/")
        seen["before"] = reader.get("/config")[0].decode()
        world.isolate(follower)
        writer.set("/config", b"v2")
        seen["stale"] = reader.get("/config")[0].decode()
        world.heal()
        reader.sync("/config")
        seen["after_sync"] = reader.get("/config")[0].decode()

    runner.spawn("scenario", scenario)
    runner.run(5000)
    verdict = check_coordination(history)
    linear = check_linearizable(to_kv_history(history)).verdict == "ok"
    return StaleReadResult(seen["before"], seen["stale"], seen["after_sync"], verdict.ok, linear)


@dataclass(frozen=True)
class HerdResult:
    lock: str
    clients: int
    acquisitions: int
    notifications: int
    most_holders_at_once: int

    @property
    def per_acquisition(self) -> float:
        return self.notifications / self.acquisitions


def herd(lock: str = "herd-free", clients: int = 10, seed: int = 0) -> HerdResult:
    """Every client takes the lock once, all at the same time; count watch notifications."""
    lock_cls: Any = {"herd-free": Lock, "naive": NaiveLock}[lock]
    _world, runner = _ready_world(seed)
    inside = [0, 0]  # now, most
    locks = []

    def contend(client: SimCoordClient) -> None:
        client.start()
        mutex = lock_cls(client, "/lock", client.name)
        locks.append(mutex)
        runner.wait_until(lambda: len(locks) == clients, 10**6)  # everyone queues at once
        mutex.acquire()
        inside[0] += 1
        inside[1] = max(inside)
        runner.wait_until(lambda: False, 5)  # hold it for 50 ms
        inside[0] -= 1
        mutex.release()

    for number in range(clients):
        client = runner.client(server=f"n{number % 3}", client_id=f"c{number}")
        runner.spawn(client.name, contend, client)
    finished = runner.run(50_000)
    assert finished, "the lock experiment did not finish"
    notifications = sum(mutex.wakeups for mutex in locks)
    return HerdResult(lock, clients, clients, notifications, inside[1])


def locks_under_crashes(seed: int, *, clients: int = 4, rounds: int = 2) -> list[str]:
    """The herd-free lock while servers crash and restart: every holder writes to a fenced
    resource; returns the problems (two holders at once, stale writes accepted)."""
    world, runner = _ready_world(seed)
    resource = FencedResource(check_tokens=False)  # judged afterwards, not enforced
    inside = [0]
    problems: list[str] = []
    rng = random.Random(derive_seed(seed, "lock-crashes"))

    def contend(client: SimCoordClient) -> None:
        client.start()
        mutex = Lock(client, "/lock", client.name)
        for _ in range(rounds):
            try:
                token = mutex.acquire()
            except (KazooException, LockLost):
                continue
            inside[0] += 1
            if inside[0] > 1:
                problems.append(f"t={world.now}: {inside[0]} holders at once")
            resource.write(client.name, token, client.name)
            runner.wait_until(lambda: False, 5)
            inside[0] -= 1
            with contextlib.suppress(KazooException):
                mutex.release()

    for number in range(clients):
        client = runner.client(server=f"n{number % 3}", client_id=f"c{number}", timeout=2.0)
        runner.spawn(client.name, contend, client)
    victims = [rng.choice(world.node_ids) for _ in range(3)]
    for victim in victims:
        runner.run(rng.randint(20, 80))
        world.crash(victim)
        runner.run(60)
        world.restart(victim)
    runner.run(50_000)
    return problems + check_fenced_writes(resource.writes)


@dataclass(frozen=True)
class FencingResult:
    check_tokens: bool
    writes: tuple[str, ...]
    final_value: str | None
    problems: tuple[str, ...]


def fencing(seed: int = 0, *, check_tokens: bool) -> FencingResult:
    """A holder pauses past its session timeout; the next holder writes; the first wakes and
    writes too. With ``check_tokens`` the resource refuses the old token."""
    _world, runner = _ready_world(seed)
    resource = FencedResource(check_tokens=check_tokens)
    first = runner.client(server="n0", client_id="A", timeout=1.0)
    second = runner.client(server="n1", client_id="B", timeout=1.0)

    def holder_a() -> None:
        first.start()
        token = Lock(first, "/lock", "A").acquire()
        first.freeze()  # a long GC pause, right after taking the lock...
        runner.wait_until(lambda: not first.frozen, 10**6)
        resource.write("A", token, "written by A")  # ...and it wakes up believing it holds it

    def holder_b() -> None:
        second.start()
        runner.wait_until(lambda: first.frozen, 10**6)
        token = Lock(second, "/lock", "B").acquire()  # granted once A's session expires
        resource.write("B", token, "written by B")

    runner.spawn("A", holder_a)
    runner.spawn("B", holder_b)
    runner.run(20_000, until=lambda: len(resource.writes) == 1)
    first.thaw()
    runner.run(20_000)
    shown = tuple(
        f"{w.client} token {w.token}: {'accepted' if w.accepted else 'refused'}"
        for w in resource.writes
    )
    problems = tuple(check_fenced_writes(resource.writes))
    return FencingResult(check_tokens, shown, resource.value, problems)


def ephemeral_after_expiry(seed: int = 0) -> tuple[bool, bool]:
    """(the ephemeral znode existed while its session was frozen but not yet expired, it was
    gone right after the expiry) -- "gone after expiry and only then"."""
    world, runner = _ready_world(seed)
    owner = runner.client(server="n0", client_id="owner", timeout=1.0)
    watcher = runner.client(server="n1", client_id="watcher", timeout=5.0)
    seen = {}

    def scenario() -> None:
        owner.start()
        watcher.start()
        owner.create("/member", b"x", ephemeral=True)
        owner.freeze()
        runner.wait_until(lambda: False, 50)  # half the session timeout
        seen["during"] = watcher.exists("/member") is not None
        runner.wait_until(lambda: owner.session_id not in world.servers["n1"].tree.sessions, 500)
        watcher.sync("/")
        try:
            watcher.get("/member")
            seen["after"] = False
        except NoNodeError:
            seen["after"] = True

    runner.spawn("scenario", scenario)
    runner.run(5000)
    return seen["during"], seen["after"]
