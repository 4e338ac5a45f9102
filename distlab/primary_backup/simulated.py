"""Primary-backup in the simulator: its named safety rules, clients in virtual time, sweeps.

What it is: the seeded-simulator face of `Replica` and `Arbiter` (`distlab.sim.World`):

- `PrimaryBackupSim`, the `SimSystem`: nodes ``n0`` (first primary) and ``n1`` (first
  backup) are replicas, ``n2`` is the arbiter. It keeps what survives a crash (a replica's
  "I have run before" mark, the arbiter's flag) and checks, after every event, the rules
  by name:

  - **At Most One Live Replica**: never two replicas live (alone) at once;
  - **Output Rule**: a paired primary sends no reply before its backup acknowledged the
    entry that produced it;
  - **Backup Replays Identically**: after replaying entry *i*, the backup's machine is the
    primary's machine after entry *i*, digest for digest;
  - **Acknowledged Operations Survive**: a replica that goes live holds every write a
    client was told had happened.

  With ``enforce=False`` a broken rule is recorded in ``violations`` instead of stopping
  the run, so an experiment can go on and let the linearizability checker judge too.
- `SimClient`: put / get / append in virtual time, one `History` (``ok``, definite
  ``fail``, indefinite ``info``), retrying at the other replica with the same seq.
- `run_schedule` and `sweep`: a seeded workload under a seeded crash/partition schedule,
  judged by `distlab.check` (linearizable? acknowledged writes lost?).
- `divergence`, `lost_output`, `split_brain`: the three experiments of the chapter, one per
  rule switched off, each returning what the learner looks at.

What it must never do: read the wall clock or use unseeded randomness.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from distlab.check import History, check_linearizable, lost_acknowledged_writes
from distlab.check.linearizability import CheckResult
from distlab.core import NodeId, derive_seed
from distlab.kv.clerk import KVOperations
from distlab.primary_backup.arbiter import Arbiter, ArbiterReady, ArbiterState
from distlab.primary_backup.machine import Machine, StateDiff
from distlab.primary_backup.messages import (
    CODEC,
    Executed,
    LogEntries,
    Replayed,
    Reply,
    Snapshot,
    Stopped,
    WentLive,
)
from distlab.primary_backup.replica import (
    BACKUP,
    LIVE,
    PRIMARY,
    Replica,
    ReplicaConfig,
    ReplicaReady,
    Rules,
)
from distlab.sim.network import RELIABLE, NetworkConfig
from distlab.sim.world import SimSystem, World

__all__ = [
    "ARBITER",
    "REPLICAS",
    "ChannelCost",
    "DivergenceResult",
    "ExperimentResult",
    "PrimaryBackupSim",
    "RunResult",
    "SimClient",
    "Violation",
    "channel_cost",
    "divergence",
    "lost_output",
    "pb_world",
    "redundant",
    "run_schedule",
    "split_brain",
    "sweep",
]

ARBITER = "n2"
REPLICAS = ("n0", "n1")


@dataclass(frozen=True)
class Violation:
    """A broken rule, by name, with what broke it."""

    rule: str
    detail: str
    tick: int


class PrimaryBackupSim(SimSystem):
    """Replicas ``n0``, ``n1`` and the arbiter ``n2`` in a `World` (module docstring)."""

    def __init__(
        self,
        config: ReplicaConfig | None = None,
        *,
        enforce: bool = True,
        replica_cls: type[Replica] = Replica,
        keep_machines: bool = False,
    ) -> None:
        self.config = config or ReplicaConfig()
        self.enforce = enforce
        self.replica_cls = replica_cls
        self.keep_machines = keep_machines
        self.started: set[NodeId] = set()  # durable: "I have run before"
        self.arbiter_state = ArbiterState()  # durable: the flag
        self.violations: list[Violation] = []
        self.delivered: dict[tuple[str, int], list[Reply]] = {}  # replies clients received
        self.acknowledged: dict[str, int] = {}  # client -> highest write seq acknowledged
        self.duplicate_replies = 0
        # The primary's digest (and, if kept, its machine) after each entry it executed.
        self.primary_digests: dict[int, str] = {}
        self.primary_machines: dict[int, Machine] = {}
        self.replayed_digests: dict[int, str] = {}
        self.backup_machines: dict[int, Machine] = {}
        self.entry_bytes = 0  # bytes of log (or state) entries shipped, first sends only
        self.entries_shipped = 0
        self._shipped: set[int] = set()

    # -- hooks ----------------------------------------------------------------------------

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        if node_id == ARBITER:
            return Arbiter(node_id, self.arbiter_state)
        partner = "n1" if node_id == "n0" else "n0"
        return self.replica_cls(
            node_id,
            partner,
            ARBITER,
            rng,
            self.config,
            first_boot=node_id not in self.started,
            starts_as_primary=node_id == "n0",
        )

    def persist(self, node_id: NodeId, core: Any, ready: Any) -> None:
        if isinstance(ready, ReplicaReady) and ready.started:
            self.started.add(node_id)
        elif isinstance(ready, ArbiterReady) and ready.state is not None:
            self.arbiter_state = ready.state
        for envelope in ready.messages:  # the logging channel's payload, counted once
            if isinstance(envelope.message, LogEntries):
                for entry in envelope.message.entries:
                    if entry.index not in self._shipped or entry.kind == "state":
                        self._shipped.add(entry.index)
                        self.entries_shipped += 1
                        self.entry_bytes += len(msgpack.packb(CODEC.encode(entry)))

    def output(self, node_id: NodeId, core: Any, item: Any) -> None:
        match item:
            case Reply():
                self._reply(node_id, core, item)
            case Executed(index=index, digest=digest):
                self.primary_digests[index] = digest
                if self.keep_machines:
                    self.primary_machines[index] = core.machine.copy()
            case Replayed(index=index, digest=digest):
                self.replayed_digests[index] = digest
                if self.keep_machines:
                    self.backup_machines[index] = core.machine.copy()
                expected = self.primary_digests.get(index)
                if expected is not None and expected != digest:
                    detail = f"{node_id} replayed entry {index} into state {digest}"
                    detail += f", the primary had {expected}"
                    if index in self.primary_machines:
                        diff = self.primary_machines[index].diff(core.machine)
                        detail += f"; primary vs backup:\n{diff}"
                    self._violation("Backup Replays Identically", detail)
            case WentLive():
                # Entries the old primary executed past what the new one holds never happened.
                for index in [i for i in self.primary_digests if i > core.last_index]:
                    del self.primary_digests[index]
                    self.primary_machines.pop(index, None)
                for client, seq in self.acknowledged.items():
                    session = core.machine.session(client)
                    if session is None or session[0] < seq:
                        self._violation(
                            "Acknowledged Operations Survive",
                            f"{node_id} went live without {client}'s acknowledged write "
                            f"#{seq} (it holds #{session[0] if session else 0})",
                        )
            case Stopped():
                pass

    def _reply(self, node_id: NodeId, core: Replica, reply: Reply) -> None:
        if core.role == PRIMARY and reply.index > core.acked_index:
            self._violation(
                "Output Rule",
                f"{node_id} replied to {reply.client}#{reply.seq} (entry {reply.index}) "
                f"before its backup acknowledged it (acknowledged: {core.acked_index})",
            )
        key = (reply.client, reply.seq)
        received = self.delivered.setdefault(key, [])
        if received:
            self.duplicate_replies += 1  # the client drops it by its seq
        received.append(reply)

    def after_event(self, node_id: NodeId, core: Any) -> None:
        live = [
            name
            for name in REPLICAS
            if (node := self.world.nodes.get(name)) is not None and node.role == LIVE
        ]
        if len(live) > 1:
            self._violation("At Most One Live Replica", f"{' and '.join(live)} are both live")

    def _violation(self, rule: str, detail: str) -> None:
        if self.enforce:
            self.world.violation(rule, detail)
        if not any(v.rule == rule for v in self.violations):
            self.violations.append(Violation(rule, detail, self.world.now))

    def fields(self, core: Any) -> dict[str, Any]:
        if isinstance(core, Arbiter):
            return {"role": "arbiter", "epoch": core.state.epoch, "holder": core.state.holder}
        return dict(vars(core.statistics()))

    def role(self, core: Any) -> tuple[Any, int] | None:
        if isinstance(core, Arbiter):
            return None
        return core.role, core.epoch

    def message_size(self, message: Any) -> int:
        return len(msgpack.packb(CODEC.encode(message)))

    def is_request(self, cls: type) -> bool:
        return cls in (LogEntries, Snapshot)

    # -- for clients -------------------------------------------------------------------------

    def acknowledge(self, reply: Reply, is_write: bool) -> None:
        """A client accepted this reply (its first for that seq)."""
        if is_write:
            self.acknowledged[reply.client] = max(self.acknowledged.get(reply.client, 0), reply.seq)


def pb_world(
    seed: int,
    config: ReplicaConfig | None = None,
    *,
    network: NetworkConfig = RELIABLE,
    **options: Any,
) -> World:
    """A `World` of two replicas and an arbiter (``n0`` primary, ``n1`` backup, ``n2``)."""
    return World(PrimaryBackupSim(config, **options), seed, 3, network=network)


class SimClient(KVOperations):
    """A client in virtual time (module docstring); ``preferred`` is the replica it tries
    first. Each operation keeps its seq across attempts, so a retry is a duplicate the
    replicas recognise."""

    def __init__(
        self,
        world: World,
        client_id: str,
        history: History,
        *,
        preferred: NodeId = "n0",
        deadline_s: float = 2.0,
        attempt_timeout_s: float = 0.4,
        roam: bool = False,
    ) -> None:
        assert isinstance(world.system, PrimaryBackupSim), (
            "a SimClient needs a primary-backup World"
        )
        self.world = world
        self.system: PrimaryBackupSim = world.system
        self.client_id = client_id
        self.history = history
        self.target = preferred
        self.deadline_ticks = max(1, round(deadline_s * world.ticks_per_second))
        self.attempt_ticks = max(1, round(attempt_timeout_s * world.ticks_per_second))
        self._seq = itertools.count(1)
        # roam: each operation starts at a replica picked at random (seeded), as clients
        # that reconnect to whichever replica they reach first.
        self._roam = random.Random(derive_seed(world.seed, "client", client_id)) if roam else None
        #: Called once, right after the next request is accepted (a fault in mid-flight).
        self.after_submit: Callable[[], None] | None = None

    def _operation(self, op: str, key: str, value: str) -> str:
        seq = next(self._seq)
        call = self.history.invoke(self.client_id, op, key, None if op == "get" else value)  # type: ignore[arg-type]
        if self._roam is not None:
            self.target = self._roam.choice(REPLICAS)
        deadline = self.world.now + self.deadline_ticks
        maybe_happened = False
        while self.world.now < deadline:
            outcome = self._attempt(self.target, seq, op, key, value)
            if isinstance(outcome, Reply):
                self.system.acknowledge(outcome, op != "get")
                self.history.ok(call, outcome.output if op == "get" else None)
                return outcome.output
            maybe_happened = maybe_happened or outcome == "timeout"
            self.target = "n1" if self.target == "n0" else "n0"  # reconnect to the other
            self.world.run_for(2)
        if maybe_happened:
            self.history.info(call)
        else:
            self.history.fail(call)
        raise TimeoutError(f"{op}({key!r}) by {self.client_id}: no reply before the deadline")

    def _attempt(self, node: NodeId, seq: int, op: str, key: str, value: str) -> Reply | str:
        world, key_ = self.world, (self.client_id, seq)
        if not world.alive(node) or not world.connected(node):
            return "refused"
        answer = world.operate(node, lambda core: core.submit(self.client_id, seq, op, key, value))
        if answer == "bad_request":
            raise ValueError(f"the replica refused {op}({key!r}, {value!r}) as malformed")
        if answer != "accepted":
            return "refused"  # not the primary: nothing happened there (definite)
        if self.after_submit is not None:  # a fault schedule strikes mid-operation
            strike, self.after_submit = self.after_submit, None
            strike()
        world.run_until(lambda: key_ in self.system.delivered, self.attempt_ticks)
        replies = self.system.delivered.get(key_)
        return replies[0] if replies else "timeout"


# ==============================================================================================
# A seeded run under a fault schedule, and the sweep
# ==============================================================================================


@dataclass(frozen=True)
class RunResult:
    """One run's verdict."""

    seed: int
    operations: int
    ok: int
    linearizable: bool | None
    acknowledged_writes_lost: int
    violations: tuple[Violation, ...]
    duplicate_replies: int
    faults: tuple[str, ...]
    check: CheckResult = field(repr=False, compare=False)
    history: History = field(repr=False, compare=False)


def _final_state(world: World) -> dict[str, str]:
    """The serving replica's keys (none serving: nothing survived, so report that)."""
    live = [
        world.nodes[name]
        for name in REPLICAS
        if world.nodes[name] is not None and world.nodes[name].role in (LIVE, PRIMARY)
    ]
    return live[-1].machine.user_memory() if live else {}


def run_schedule(
    seed: int,
    config: ReplicaConfig | None = None,
    *,
    operations: int = 40,
    faults: int = 2,
    enforce: bool = True,
    replica_cls: type[Replica] = Replica,
    network: NetworkConfig = RELIABLE,
) -> RunResult:
    """A seeded run: two clients on three keys while a seeded schedule crashes a replica,
    cuts the logging channel, restarts and heals -- never more than one replica down (FT
    survives one failure at a time). Judged by the linearizability checker."""
    world = pb_world(seed, config, network=network, enforce=enforce, replica_cls=replica_cls)
    system: PrimaryBackupSim = world.system  # type: ignore[assignment]
    rng = random.Random(derive_seed(seed, "schedule"))
    history = History(world.history_clock())
    clients = [SimClient(world, f"c{i}", history, roam=True) for i in range(2)]
    fault_at = sorted(rng.sample(range(5, operations - 5), faults)) if faults else []
    done: list[str] = []
    down: list[NodeId | None] = [None]

    def strike() -> None:
        down[0] = _fault(world, rng, down[0], done)

    for step in range(operations):
        client = clients[step % 2]
        if step in fault_at:
            if rng.random() < 0.5:
                strike()  # between operations
            else:
                client.after_submit = strike  # while this operation is in flight
        key = "xyz"[rng.randrange(3)]
        kind = rng.choice(("put", "append", "get"))
        try:
            if kind == "get":
                client.get(key)
            elif kind == "put":
                client.put(key, f"{client.client_id}.{step}")
            else:
                client.append(key, f"+{step}")
        except TimeoutError:
            pass
        client.after_submit = None
        world.run_for(rng.randrange(1, 6))
    ops = history.operations()
    check = check_linearizable(history, timeout_s=10)
    lost = lost_acknowledged_writes(history, _final_state(world))
    return RunResult(
        seed=seed,
        operations=len(ops),
        ok=sum(op.status == "ok" for op in ops),
        linearizable=check.linearizable,
        acknowledged_writes_lost=len(lost),
        violations=tuple(system.violations),
        duplicate_replies=system.duplicate_replies,
        faults=tuple(done),
        check=check,
        history=history,
    )


def redundant(world: World) -> bool:
    """Primary and backup paired again, the arbiter's flag clear: ready for a failure."""
    cores = [world.nodes[name] for name in REPLICAS]
    if any(core is None for core in cores):
        return False
    roles = sorted(core.role for core in cores)
    primary = next((core for core in cores if core.role == PRIMARY), None)
    arbiter = world.nodes[ARBITER]
    return (
        roles == [BACKUP, PRIMARY]
        and primary is not None
        and primary.statistics().pairing == "confirmed"
        and arbiter is not None
        and arbiter.state.holder == ""
    )


def _fault(world: World, rng: random.Random, down: NodeId | None, done: list[str]) -> NodeId | None:
    """One step of the schedule: repair what is broken, or -- once the pair is redundant
    again (waiting up to 5 virtual seconds: one failure at a time) -- break one thing:
    crash the serving replica (two times in three) or a random one, or cut the channel."""
    if down is not None:
        if down == "network":
            world.heal()
            done.append("heal")
        else:
            world.restart(down)
            done.append(f"restart {down}")
        return None
    # FT survives one failure at a time: a lossy network may have broken the pair by itself.
    world.run_until(lambda: redundant(world), 500)
    choice = rng.randrange(3)
    live = [
        n for n in REPLICAS if world.nodes[n] is not None and world.nodes[n].role in (LIVE, PRIMARY)
    ]
    victim = live[0] if live and choice < 2 else rng.choice(REPLICAS)
    if choice == 2:
        _cut_logging_channel(world)
        done.append("cut logging channel")
        return "network"
    world.crash(victim)
    done.append(f"crash {victim}")
    return victim


def sweep(
    seeds: Iterable[int], config: ReplicaConfig | None = None, **options: Any
) -> list[RunResult]:
    """`run_schedule` for each seed."""
    return [run_schedule(seed, config, **options) for seed in seeds]


# ==============================================================================================
# The chapter's three experiments: one rule off each
# ==============================================================================================


def _rules(**off: bool) -> ReplicaConfig:
    return ReplicaConfig(rules=Rules(**off))


@dataclass(frozen=True)
class DivergenceResult:
    identical: bool
    diff: StateDiff
    violations: tuple[Violation, ...]


def divergence(seed: int = 1, *, log_nondeterminism: bool = True) -> DivergenceResult:
    """Six writes with timer interrupts between them; then compare the backup's machine
    with the primary's at the last entry the backup replayed."""
    world = pb_world(
        seed, _rules(log_nondeterminism=log_nondeterminism), enforce=False, keep_machines=True
    )
    system: PrimaryBackupSim = world.system  # type: ignore[assignment]
    client = SimClient(world, "c0", History(world.history_clock()))
    for i in range(6):
        client.append("x", str(i))
        world.run_for(10)
    world.run_for(30)
    common = sorted(set(system.primary_machines) & set(system.backup_machines))
    last = common[-1]
    diff = system.primary_machines[last].diff(system.backup_machines[last])
    return DivergenceResult(not diff, diff, tuple(system.violations))


@dataclass(frozen=True)
class ExperimentResult:
    """What the learner sees: the replies, the checker's verdict, the rules broken."""

    linearizable: bool | None
    acknowledged_writes_lost: int
    violations: tuple[Violation, ...]
    history: History = field(repr=False)
    check: CheckResult = field(repr=False)
    live_replicas: tuple[NodeId, ...] = ()
    notes: tuple[str, ...] = ()


def _judge(world: World, history: History, notes: list[str]) -> ExperimentResult:
    system: PrimaryBackupSim = world.system  # type: ignore[assignment]
    check = check_linearizable(history, timeout_s=10)
    live = tuple(n for n in REPLICAS if world.nodes[n] is not None and world.nodes[n].role == LIVE)
    lost = lost_acknowledged_writes(history, _final_state(world))
    return ExperimentResult(
        check.linearizable, len(lost), tuple(system.violations), history, check, live, tuple(notes)
    )


def lost_output(
    seed: int = 1, *, output_rule: bool = True, replica_cls: type[Replica] = Replica
) -> ExperimentResult:
    """Cut the logging channel, write at the primary, crash it: does the client hold a
    reply whose effect the new primary never had?"""
    world = pb_world(seed, _rules(output_rule=output_rule), enforce=False, replica_cls=replica_cls)
    history = History(world.history_clock())
    writer = SimClient(world, "writer", history, attempt_timeout_s=0.3, deadline_s=3)
    reader = SimClient(world, "reader", history, preferred="n1", deadline_s=3)
    notes = []
    writer.put("x", "before")
    world.run_for(5)
    _cut_logging_channel(world)
    notes.append("logging channel cut")
    call = history.invoke("writer", "put", "x", "lost?")
    step = world.operate("n0", lambda core: core.submit("writer", 99, "put", "x", "lost?"))
    world.run_for(1)
    reply = writer.system.delivered.get(("writer", 99))
    if reply:
        writer.system.acknowledge(reply[0], True)
        history.ok(call)
        notes.append(f"n0 replied to put(x, 'lost?') at once ({step})")
    else:
        notes.append("n0 holds its reply: the backup has not acknowledged the entry")
    world.crash("n0")
    notes.append("n0 crashed")
    if not reply:
        history.info(call)  # the client never heard: it may or may not have happened
    world.heal()
    world.run_for(40)
    value = reader.get("x")
    notes.append(f"the reader asks the new primary: get(x) -> {value!r}")
    return _judge(world, history, notes)


def split_brain(
    seed: int = 1, *, test_and_set: bool = True, replica_cls: type[Replica] = Replica
) -> ExperimentResult:
    """Partition primary from backup (each still reaches the arbiter and its clients):
    how many replicas go live, and what do their clients see?"""
    world = pb_world(
        seed, _rules(test_and_set=test_and_set), enforce=False, replica_cls=replica_cls
    )
    history = History(world.history_clock())
    left = SimClient(world, "left", history, preferred="n0")
    right = SimClient(world, "right", history, preferred="n1")
    notes = []
    left.put("x", "0")
    _cut_logging_channel(world)
    notes.append("primary and backup cannot hear each other")
    world.run_for(40)
    notes.append(
        "live: " + (", ".join(n for n in REPLICAS if world.nodes[n].role == LIVE) or "none")
    )
    left.put("x", "left")
    right.put("x", "right")
    for client in (left, right):
        try:
            notes.append(f"{client.client_id} reads x = {client.get('x')!r}")
        except TimeoutError:
            notes.append(f"{client.client_id}'s read timed out")
    return _judge(world, history, notes)


def _cut_logging_channel(world: World) -> None:
    """Primary and backup cannot reach each other; both still reach the arbiter (and their
    clients): the partition that invites split brain."""
    world.block("n0", "n1")
    world.block("n1", "n0")


# ==============================================================================================
# Log shipping vs state transfer: what crosses the logging channel per operation
# ==============================================================================================


@dataclass(frozen=True)
class ChannelCost:
    """Bytes on the logging channel per client operation, for one replication scheme."""

    replication: str
    value_bytes: int  # the size of the state each operation touches
    operations: int
    bytes_per_operation: float
    entries_per_operation: float


def channel_cost(
    replication: str, value_bytes: int, *, operations: int = 40, seed: int = 1
) -> ChannelCost:
    """Appends of 8 bytes to a cell already ``value_bytes`` long, in the simulator: state
    transfer ships the whole changed cell each time, log shipping ships the request (and
    the timer interrupts' readings). Deterministic for a seed."""
    config = ReplicaConfig(replication=replication)  # type: ignore[arg-type]
    world = pb_world(seed, config)
    system: PrimaryBackupSim = world.system  # type: ignore[assignment]
    client = SimClient(world, "bench", History(world.history_clock()))
    client.put("x", "v" * value_bytes)
    world.run_for(5)
    bytes_before, entries_before = system.entry_bytes, system.entries_shipped
    for i in range(operations):
        client.append("x", f"{i:08d}")
    return ChannelCost(
        replication,
        value_bytes,
        operations,
        (system.entry_bytes - bytes_before) / operations,
        (system.entries_shipped - entries_before) / operations,
    )
