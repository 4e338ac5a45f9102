"""Aurora in the simulator: named safety checks, seeded clients, zone failures, the verdict.

What it is:

- `AuroraSimSystem`: a `distlab.sim.SimSystem` whose node ``n0`` is the writer and
  ``n1 .. n6`` the storage nodes, two in each availability zone (可用区) ``a``, ``b``, ``c``
  (`ZONES`). Every node's disk survives its crashes; `wipe` throws one away (a replaced
  node). It counts fsyncs, and after every event checks Aurora's named safety properties:

  * **Commit Only On A Write Quorum** -- when the writer says a transaction committed, W
    storage nodes hold every record up to its end on disk;
  * **Truncation Never Cuts A Commit** -- a recovery point is never below an acknowledged
    commit, so no acknowledged transaction vanishes;
  * **Recovery Cuts At A Transaction End** -- a recovery point is the last record of a
    transaction, so none survives half-applied.

- `AuroraWorkload`: seeded closed-loop clients: transactions of one to three page writes,
  and page reads, each recorded in one `distlab.check.History` on a strictly increasing
  virtual clock (a transaction's writes as one put per page, with the same interval).
- `run_aurora(seed, faults=...)`: a run with crashes of storage nodes, zones, a zone plus
  one node, and the writer (`FAULTS`), then repair, and the verdict `AuroraRun`.
- `availability(...)`: what stays available after each failure, measured (`AVAILABILITY`).
- `measure(...)`: bytes on the wire, fsyncs, commit latency (p50/p99) and throughput of
  one design, for the benchmark and the notebook.

What it must never do: read the wall clock or use unseeded randomness.
Where it fits: above `distlab.aurora.core`, beside `distlab.aurora.node` (real processes).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack

from distlab.aurora.core import (
    PAGE_BYTES,
    Committed,
    ReadDone,
    ReadFailed,
    Recovered,
    Refused,
    StorageNode,
    StorageReady,
    Timing,
    Writer,
    WriterReady,
    invalid,
)
from distlab.aurora.messages import CODEC, Append, LogRecord
from distlab.check import History, check_linearizable, lost_acknowledged_writes
from distlab.core import NodeId, derive_seed
from distlab.sim.network import RELIABLE, NetworkConfig
from distlab.sim.world import SimSystem, World, check_client_rates

__all__ = [
    "AVAILABILITY",
    "FAULTS",
    "STORAGE",
    "WRITER",
    "ZONES",
    "AuroraRun",
    "AuroraSimSystem",
    "AuroraWorkload",
    "Availability",
    "Measurement",
    "QuorumReadDemo",
    "aurora_world",
    "availability",
    "measure",
    "quorum_read_demo",
    "recover_from_a_half_written_transaction",
    "recover_with_laggards",
    "run_aurora",
]

WRITER = "n0"
ZONES: dict[str, tuple[str, str]] = {"a": ("n1", "n2"), "b": ("n3", "n4"), "c": ("n5", "n6")}
STORAGE: tuple[str, ...] = tuple(node for pair in ZONES.values() for node in pair)
FAULTS: tuple[str, ...] = ("crash node", "crash zone", "crash zone + node", "crash writer")


def zone_of(node: str) -> str:
    for zone, members in ZONES.items():
        if node in members:
            return zone
    raise ValueError(f"{node!r} is not a storage node (those are {STORAGE})")


@dataclass
class _Disk:
    records: dict[int, LogRecord] = field(default_factory=dict)
    epoch: int = 0
    truncations: tuple[tuple[int, int], ...] = ()


class AuroraSimSystem(SimSystem):
    """How Aurora runs in a `World` (see the module docstring). ``writer_factory`` and
    ``storage_factory`` build the cores (mutants, in tests)."""

    def __init__(
        self,
        *,
        write_quorum: int = 4,
        read_quorum: int = 3,
        shipping: str = "log",
        quorum_reads: bool = False,
        gossip: bool = True,
        timing: Timing | None = None,
        writer_factory: Callable[..., Writer] = Writer,
        storage_factory: Callable[..., StorageNode] = StorageNode,
        stop_at_violation: bool = True,
    ) -> None:
        self.options = {
            "write_quorum": write_quorum,
            "read_quorum": read_quorum,
            "shipping": shipping,
            "quorum_reads": quorum_reads,
        }
        self.write_quorum = write_quorum
        self.gossip = gossip
        self.timing = timing or Timing()
        self.writer_factory = writer_factory
        self.storage_factory = storage_factory
        self.stop_at_violation = stop_at_violation
        self.disks: dict[str, _Disk] = {}
        self.writer_disk = _Disk()
        self.slow: dict[str, int] = {}
        self.answers: dict[str, Any] = {}
        self.acknowledged: dict[str, int] = {}  # txn -> its last LSN
        self.recoveries: list[Recovered] = []
        self.violations: list[str] = []
        self.fsyncs = 0
        self.commit_ticks: dict[str, int] = {}

    # -- hooks -----------------------------------------------------------------------------

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        if node_id == WRITER:
            self.writer_disk.epoch += 1  # written before the writer sends anything
            self.fsyncs += 1
            return self.writer_factory(
                WRITER,
                STORAGE,
                self.writer_disk.epoch,
                truncations=self.writer_disk.truncations,
                timing=self.timing,
                rng=random.Random(rng.getrandbits(64)),
                **self.options,
            )
        if node_id not in STORAGE:
            raise ValueError(f"an Aurora world has nodes n0 .. n6, not {node_id!r}")
        disk = self.disks.setdefault(node_id, _Disk())
        return self.storage_factory(
            node_id,
            WRITER,
            STORAGE,
            records=dict(disk.records),
            epoch=disk.epoch,
            truncations=disk.truncations,
            timing=self.timing,
            gossip=self.gossip,
            slow_ticks=self.slow.get(node_id, 0),
        )

    def persist(self, node_id: NodeId, core: Any, ready: Any) -> None:
        if isinstance(ready, WriterReady) and ready.truncations is not None:
            self.writer_disk.truncations = ready.truncations
            self.fsyncs += 1
            self._check_truncation(ready.truncations[-1])
        elif isinstance(ready, StorageReady):
            disk = self.disks[node_id]
            if ready.adopted is not None:
                disk.epoch, disk.truncations = ready.adopted
                disk.records = {
                    lsn: r for lsn, r in disk.records.items() if not invalid(r, disk.truncations)
                }
            for record in ready.records:
                disk.records[record.lsn] = record
            self.fsyncs += 1 if (ready.records or ready.adopted) else 0
            self.fsyncs += 1 if ready.page_images else 0  # the page images' own write

    def output(self, node_id: NodeId, core: Any, item: Any) -> None:
        if isinstance(item, Committed):
            self._check_commit(item)
            self.acknowledged[item.op] = item.lsn
            self.commit_ticks[item.op] = self.world.now
        elif isinstance(item, Recovered):
            self.recoveries.append(item)
        if hasattr(item, "op"):
            self.answers[item.op] = item

    def crashed(self, node_id: NodeId) -> None:
        """Nothing beside the cores is kept in memory."""

    def fields(self, core: Any) -> dict[str, Any]:
        return dict(core.statistics())

    def message_size(self, message: Any) -> int:
        size = len(msgpack.packb(CODEC.encode(message)))
        if isinstance(message, Append):
            size += PAGE_BYTES * len(message.pages)
        return size

    # -- what tests and notebooks do to it --------------------------------------------------

    def wipe(self, node_id: str) -> None:
        """Throw a storage node's disk away (call while it is crashed): a replaced node."""
        if self.world.alive(node_id):
            raise ValueError(f"crash {node_id} before replacing its disk")
        self.disks[node_id] = _Disk()

    def set_slow(self, node_id: str, ticks: int) -> None:
        """Make a storage node answer ``ticks`` ticks late (survives its restarts)."""
        zone_of(node_id)
        self.slow[node_id] = ticks
        self.world.operate(node_id, lambda core: core.set_slow(ticks))

    def disk_scl(self, node_id: str) -> int:
        records, scl = self.disks.get(node_id, _Disk()).records, 0
        while scl + 1 in records:
            scl += 1
        return scl

    # -- the named safety properties -----------------------------------------------------

    def _check_commit(self, item: Committed) -> None:
        holders = [node for node in STORAGE if self.disk_scl(node) >= item.lsn]
        if len(holders) < self.write_quorum:
            self._violation(
                "Commit Only On A Write Quorum",
                f"{item.op} acknowledged at LSN {item.lsn}, but only {holders} hold it on disk "
                f"(W = {self.write_quorum})",
            )

    def _check_truncation(self, truncation: tuple[int, int]) -> None:
        epoch, point = truncation
        cut = sorted(op for op, lsn in self.acknowledged.items() if lsn > point)
        if cut:
            self._violation(
                "Truncation Never Cuts A Commit",
                f"epoch {epoch} cut the log at {point}, losing acknowledged {cut[:3]}",
            )
        if point > 0:
            ends = [d.records[point].last for d in self.disks.values() if point in d.records]
            if not any(ends):
                self._violation(
                    "Recovery Cuts At A Transaction End",
                    f"epoch {epoch} cut the log at {point}, inside a transaction",
                )

    def _violation(self, name: str, detail: str) -> None:
        self.violations.append(f"{name}: {detail}")
        if self.stop_at_violation:
            self.world.violation(name, detail)


def aurora_world(seed: int = 0, *, network: NetworkConfig = RELIABLE, **options: Any) -> World:
    """A World of one writer and six storage nodes (options: `AuroraSimSystem`'s)."""
    return World(AuroraSimSystem(**options), seed=seed, nodes=7, network=network)


# -- clients ------------------------------------------------------------------------------------


@dataclass
class _Request:
    op: str
    kind: str
    calls: list[Any]
    writes: tuple[tuple[str, str], ...]
    started: int
    deadline: int


class AuroraWorkload:
    """Seeded closed-loop clients of an Aurora world (see the module docstring).

    Each client has one request out at a time and starts the next with probability
    ``busy`` per tick. A transaction unanswered for ``timeout_ticks`` (or whose writer
    crashed) ends as indefinite; a refused one as failed; a read that failed as failed.
    """

    def __init__(
        self,
        world: World,
        *,
        clients: int = 3,
        pages: Sequence[str] = ("p1", "p2", "p3", "p4"),
        write_fraction: float = 0.6,
        busy: float = 0.5,
        timeout_ticks: int = 100,
        history: History | None = None,
    ) -> None:
        check_client_rates(write_fraction, busy)
        self.world = world
        system = world.system
        if not isinstance(system, AuroraSimSystem):
            raise TypeError("AuroraWorkload runs on an aurora_world")
        self.system = system
        self.pages = list(pages)
        self.write_fraction = write_fraction
        self.busy = busy
        self.timeout_ticks = timeout_ticks
        self.history = history or History(clock=world.history_clock())
        self.rng = random.Random(derive_seed(world.seed, "aurora-clients"))
        self.clients: dict[str, _Request | None] = {f"c{i}": None for i in range(clients)}
        self.transactions: dict[str, tuple[tuple[str, str], ...]] = {}
        self.refused: list[str] = []
        self.latencies: list[int] = []
        self._ops = itertools.count(1)

    def run_for(self, ticks: int, *, start: bool = True) -> None:
        for _ in range(ticks):
            for client in self.clients:
                self._step(client, start)
            self.world.run_for(1)

    def settle(self, max_ticks: int = 500) -> None:
        """Start nothing new; wait until every client's request has ended."""
        for _ in range(max_ticks):
            if all(request is None for request in self.clients.values()):
                return
            self.run_for(1, start=False)

    def _step(self, client: str, start: bool) -> None:
        request = self.clients[client]
        if request is not None:
            self._finish_or_expire(client, request)
        if self.clients[client] is None and start and self.rng.random() < self.busy:
            self._start(client)

    def _start(self, client: str) -> None:
        op = f"{client}.{next(self._ops)}"
        now = self.world.now
        if self.rng.random() < self.write_fraction:
            chosen = self.rng.sample(self.pages, self.rng.randint(1, min(3, len(self.pages))))
            writes = tuple((page, op) for page in sorted(chosen))
            calls = [self.history.invoke(f"{client}/{p}", "put", p, v) for p, v in writes]
            answer = self.world.operate(WRITER, lambda w: w.commit(op, writes))
            self.transactions[op] = writes
            request = _Request(op, "put", calls, writes, now, now + self.timeout_ticks)
        else:
            page = self.rng.choice(self.pages)
            calls = [self.history.invoke(f"{client}/r", "get", page)]
            answer = self.world.operate(WRITER, lambda w: w.read(op, page))
            request = _Request(op, "get", calls, ((page, ""),), now, now + self.timeout_ticks)
        self.clients[client] = request
        if answer is None and not self.world.alive(WRITER):
            answer = Refused("the writer is down")
        if isinstance(answer, Refused):
            self.refused.append(answer.reason)
            self._end(client, request, "fail")

    def _finish_or_expire(self, client: str, request: _Request) -> None:
        answer = self.system.answers.pop(request.op, None)
        if isinstance(answer, Committed):
            self.latencies.append(self.world.now - request.started)
            self._end(client, request, "ok")
        elif isinstance(answer, ReadDone):
            self._end(client, request, "ok", answer.value)
        elif isinstance(answer, ReadFailed):
            self._end(client, request, "fail")
        elif self.world.now >= request.deadline:
            self._end(client, request, "info" if request.kind == "put" else "fail")

    def _end(self, client: str, request: _Request, status: str, value: str | None = None) -> None:
        for call in request.calls:
            if status == "ok":
                self.history.ok(call, value if request.kind == "get" else None)
            elif status == "fail":
                self.history.fail(call)
            else:
                self.history.info(call)
        self.clients[client] = None

    def expire_all(self) -> None:
        """The writer crashed: every request out ends now (writes indefinite)."""
        for client, request in self.clients.items():
            if request is not None:
                self.system.answers.pop(request.op, None)
                self._end(client, request, "info" if request.kind == "put" else "fail")


# -- a run with faults, and its verdict ---------------------------------------------------------


@dataclass(frozen=True)
class AuroraRun:
    """The verdict of one seeded run."""

    seed: int
    faults: tuple[str, ...]
    linearizable: bool
    verdict: str
    acknowledged: int
    acknowledged_lost: int
    half_applied: int
    recoveries: int
    violations: tuple[str, ...]
    refused: int
    caught_up: bool


def final_log(world: World) -> list[LogRecord]:
    """The log up to the writer's VDL, from the first storage node that holds all of it."""
    writer = world.nodes[WRITER]
    for node in STORAGE:
        core = world.nodes[node]
        if core is not None and core.scl >= writer.vdl:
            return [core.records[lsn] for lsn in range(1, writer.vdl + 1)]
    raise AssertionError(f"no storage node holds the log up to VDL {writer.vdl}")


def judge(world: World, workload: AuroraWorkload, faults: Sequence[str]) -> AuroraRun:
    system = workload.system
    log = final_log(world)
    state: dict[str, str] = {}
    present: dict[str, int] = {}
    for record in log:
        state[record.page] = record.value
        present[record.txn] = present.get(record.txn, 0) + 1
    half = [
        txn
        for txn, count in present.items()
        if txn in workload.transactions and count != len(workload.transactions[txn])
    ]
    lost = lost_acknowledged_writes(workload.history, state)
    missing = [op for op in system.acknowledged if op not in present]
    result = check_linearizable(workload.history, timeout_s=20.0)
    writer = world.nodes[WRITER]
    caught_up = all(
        world.nodes[node] is None or world.nodes[node].scl >= writer.vdl for node in STORAGE
    )
    return AuroraRun(
        seed=world.seed,
        faults=tuple(faults),
        linearizable=result.linearizable is True,
        verdict=result.verdict,
        acknowledged=len(system.acknowledged),
        acknowledged_lost=len(lost) + len(missing),
        half_applied=len(half),
        recoveries=len(system.recoveries),
        violations=tuple(system.violations),
        refused=len(workload.refused),
        caught_up=caught_up,
    )


def wait_open(world: World, max_ticks: int = 2000) -> bool:
    return world.run_until(
        lambda: world.alive(WRITER) and world.nodes[WRITER].phase == "open", max_ticks
    )


def run_aurora(
    seed: int,
    *,
    faults: int = 4,
    network: NetworkConfig = RELIABLE,
    ticks_between: int = 150,
    **options: Any,
) -> AuroraRun:
    """A seeded run: a workload through ``faults`` failures drawn from `FAULTS`, each
    repaired before the next, then a final writer crash and recovery, and the verdict."""
    world = aurora_world(seed, network=network, **options)
    workload = AuroraWorkload(world)
    rng = random.Random(derive_seed(seed, "aurora-faults"))
    done: list[str] = []
    wait_open(world)
    workload.run_for(ticks_between)
    for index in range(faults):
        fault = FAULTS[index % len(FAULTS)] if index < len(FAULTS) else rng.choice(FAULTS)
        zone = rng.choice(sorted(ZONES))
        others = [n for n in STORAGE if zone_of(n) != zone]
        victims: list[str] = {
            "crash node": [rng.choice(STORAGE)],
            "crash zone": list(ZONES[zone]),
            "crash zone + node": [*ZONES[zone], rng.choice(others)],
            "crash writer": [WRITER],
        }[fault]
        done.append(f"{fault} ({' '.join(victims)})")
        for node in victims:
            world.crash(node)
        if WRITER in victims:
            workload.expire_all()
            world.run_for(rng.randint(1, 20))
            world.restart(WRITER)
        workload.run_for(ticks_between)
        for node in victims:
            if not world.alive(node):
                world.restart(node)
        workload.run_for(ticks_between)
    workload.settle()
    world.crash(WRITER)  # every run ends with a recovery: what was acknowledged must be there
    workload.expire_all()
    world.restart(WRITER)
    wait_open(world)
    world.run_until(
        lambda: all(world.nodes[n].scl >= world.nodes[WRITER].vdl for n in STORAGE), 3000
    )
    return judge(world, workload, done)


# -- two recoveries the tests and the assignment share ----------------------------------------


def recover_with_laggards(seed: int = 3, **options: Any) -> World:
    """Two nodes miss a run of commits (gossip off, so they stay behind), come back, and
    the writer crashes: its recovery quorum may be mostly the laggards."""
    world = aurora_world(seed, gossip=False, **options)
    workload = AuroraWorkload(world, write_fraction=1.0)
    wait_open(world)
    workload.run_for(30)
    for node in ("n5", "n6"):
        world.crash(node)
    workload.run_for(100)
    workload.settle()
    for node in ("n5", "n6"):
        world.restart(node)
    world.crash("n1")  # so the read quorum holds both laggards
    world.crash(WRITER)
    workload.expire_all()
    world.restart(WRITER)
    wait_open(world)
    return world


def recover_from_a_half_written_transaction(**options: Any) -> World:
    """Every storage node's disk holds t1 (LSNs 1-2, complete) and the first record of t2
    (LSN 3; its last record never arrived) when the writer restarts."""
    world = aurora_world(0, **options)
    wait_open(world)
    system = world.system
    assert isinstance(system, AuroraSimSystem)
    for node in (*STORAGE, WRITER):
        world.crash(node)
    records = {
        1: LogRecord(1, 1, "t1", "p1", "a", False),
        2: LogRecord(2, 1, "t1", "p2", "a", True),
        3: LogRecord(3, 1, "t2", "p1", "b", False),
    }
    for node in STORAGE:
        system.disks[node].records = dict(records)
    for node in (*STORAGE, WRITER):
        world.restart(node)
    wait_open(world)
    return world


# -- availability, measured ---------------------------------------------------------------------

#: The failures the availability table tries, and which storage nodes each one kills.
AVAILABILITY: dict[str, tuple[str, ...]] = {
    "nothing": (),
    "one node": ("n1",),
    "one zone (a)": ZONES["a"],
    "one zone + one node": (*ZONES["a"], "n3"),
    "two zones": (*ZONES["a"], *ZONES["b"]),
}


@dataclass(frozen=True)
class Availability:
    """One row: after ``failure`` (and a writer crash and recovery), could it write, read?"""

    failure: str
    nodes_up: int
    writes: bool
    reads: bool
    detail: str


def availability(seed: int = 0, **options: Any) -> list[Availability]:
    """For each failure in `AVAILABILITY`: commit, fail the nodes, crash and recover the
    writer (reads now need a read quorum), then try one read and one write."""
    rows = []
    for failure, victims in AVAILABILITY.items():
        world = aurora_world(seed, **options)
        workload = AuroraWorkload(world)
        wait_open(world)
        workload.run_for(60)
        workload.settle()
        for node in victims:
            world.crash(node)
        world.crash(WRITER)
        world.restart(WRITER)
        rows.append(_probe(world, failure, len(STORAGE) - len(victims)))
    return rows


def _probe(world: World, failure: str, nodes_up: int) -> Availability:
    answers = world.system.answers  # type: ignore[attr-defined]
    world.run_until(lambda: world.nodes[WRITER].phase in ("open", "catching up"), 300)
    world.run_for(30)
    read = world.operate(WRITER, lambda w: w.read("probe-read", "p1"))
    if read is None:
        world.run_until(lambda: "probe-read" in answers, 100)
    reads = isinstance(answers.get("probe-read"), ReadDone)
    wrote = world.operate(WRITER, lambda w: w.commit("probe-write", (("p1", "probe"),)))
    if wrote is None:
        world.run_until(lambda: "probe-write" in answers, 100)
    writes = isinstance(answers.get("probe-write"), Committed)
    detail = wrote.reason if isinstance(wrote, Refused) else ("" if writes else "no answer")
    return Availability(failure, nodes_up, writes, reads, detail)


# -- measurements for the benchmark -------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    """One design under one workload: per committed transaction, and commit latency."""

    design: str
    commits: int
    bytes_per_txn: float
    fsyncs_per_txn: float
    p50_ticks: float
    p99_ticks: float
    txns_per_1000_ticks: float


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))])


def measure(
    design: str = "log",
    *,
    write_quorum: int | None = None,
    slow: dict[str, int] | None = None,
    ticks: int = 1000,
    clients: int = 4,
    seed: int = 0,
) -> Measurement:
    """Run a write-only workload on one design ("log": Aurora's; "pages": the mirrored
    baseline, which waits for all six unless told otherwise) and measure it."""
    quorum = write_quorum if write_quorum is not None else (4 if design == "log" else 6)
    world = aurora_world(seed, shipping=design, write_quorum=quorum, gossip=design == "log")
    system = world.system
    assert isinstance(system, AuroraSimSystem)
    wait_open(world)
    for node, delay in (slow or {}).items():
        system.set_slow(node, delay)
    workload = AuroraWorkload(world, clients=clients, write_fraction=1.0, busy=1.0)
    bytes_before, fsyncs_before, start = world.statistics().bytes_sent, system.fsyncs, world.now
    workload.run_for(ticks)
    commits = len(workload.latencies)
    elapsed = world.now - start
    return Measurement(
        design=f"{design} W={quorum}" + (f" slow {sorted(slow)}" if slow else ""),
        commits=commits,
        bytes_per_txn=(world.statistics().bytes_sent - bytes_before) / max(commits, 1),
        fsyncs_per_txn=(system.fsyncs - fsyncs_before) / max(commits, 1),
        p50_ticks=percentile(workload.latencies, 0.5),
        p99_ticks=percentile(workload.latencies, 0.99),
        txns_per_1000_ticks=1000 * commits / max(elapsed, 1),
    )


# -- the teaching switch: W + R <= N loses reads ------------------------------------------------


@dataclass(frozen=True)
class QuorumReadDemo:
    """A write acknowledged by W nodes, then read from R nodes (quorum reads)."""

    write_quorum: int
    read_quorum: int
    read_value: str
    answered_by: str
    linearizable: bool
    explanation: str


def quorum_read_demo(write_quorum: int, read_quorum: int, seed: int = 0) -> QuorumReadDemo:
    """Write p1="old" everywhere; then p1="new" reaches only W nodes (the others are cut
    off from the writer, gossip is off); those W answer slowly. A quorum read takes the
    first R answers: with W + R <= N they may all come from nodes without "new"."""
    world = aurora_world(
        seed, write_quorum=write_quorum, read_quorum=read_quorum, quorum_reads=True, gossip=False
    )
    system = world.system
    assert isinstance(system, AuroraSimSystem)
    history = History(clock=world.history_clock())
    wait_open(world)
    have, lack = STORAGE[:write_quorum], STORAGE[write_quorum:]

    def commit(op: str, value: str) -> None:
        call = history.invoke("writer", "put", "p1", value)
        world.operate(WRITER, lambda w: w.commit(op, (("p1", value),)))
        world.run_until(lambda: op in system.answers, 200)
        done = isinstance(system.answers.get(op), Committed)
        (history.ok if done else history.info)(call)

    commit("t-old", "old")
    world.run_for(20)  # every node holds "old"
    for node in lack:
        world.block(WRITER, node)
        world.block(node, WRITER)
    commit("t-new", "new")
    world.heal()
    for node in have:
        system.set_slow(node, 8)
    call = history.invoke("reader", "get", "p1")
    world.operate(WRITER, lambda w: w.read("t-read", "p1"))
    world.run_until(lambda: "t-read" in system.answers, 300)
    answer = system.answers.get("t-read")
    if isinstance(answer, ReadDone):
        history.ok(call, answer.value)
    else:
        history.fail(call)
    result = check_linearizable(history)
    return QuorumReadDemo(
        write_quorum,
        read_quorum,
        answer.value if isinstance(answer, ReadDone) else "(no answer)",
        answer.node if isinstance(answer, ReadDone) else "",
        result.linearizable is True,
        result.explanation,
    )
