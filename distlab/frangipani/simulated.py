"""Frangipani in the seeded simulator: one server node, workstations, crashes, a verdict.

What it is:

- `FrangipaniSim`, a `distlab.sim.SimSystem`: node ``n0`` hosts the shared service (disk,
  logs, locks -- `FrangipaniService`) and its lease keeper; ``n1``, ``n2``, ... are
  workstations (`Workstation` cores). A workstation sends one `Request` at a time and the
  server answers with an `Answer`. A workstation that crashes loses its memory (cache,
  locks, log entries not yet on the disk); it comes back with ``hello``, which first
  recovers its old incarnation. One that stays silent past ``lease_ticks`` is recovered by
  the lease keeper.
- Named safety invariants, checked after every event:

  * ``"Replay before release"`` -- every log entry on the disk is either still covered by
    its writer's write lock or already reflected on the disk (a crashed workstation's locks
    are released only after its log is replayed);
  * ``"Log before blocks"`` -- a block reaches the disk only after the log entry that
    describes it (write-ahead);
  * ``"Versions never go back"`` -- a block's version on the disk only grows (an older log
    never overwrites newer data);
  * ``"Single writer"`` -- a write lock has one holder, and a workstation caches only blocks
    whose lock it holds (cache coherence);
  * ``"Directory matches files"`` -- whenever no lock is held, the directory lists exactly
    the files that exist (no half-created or half-renamed file).

- `run_workload(seed, ...)`: two or three workstations doing seeded reads and writes of
  shared files (recorded in a `distlab.check.History` with virtual time), creates, renames
  and deletes, syncs, and crashes; returns a `SimRun` with the checker's verdict.

What it must never do: read the wall clock or use unseeded randomness.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from distlab.check import History, Operation, check_linearizable
from distlab.core import Envelope, NodeId, Ready
from distlab.frangipani.service import ROOT, FrangipaniService
from distlab.frangipani.workstation import Workstation
from distlab.sim.world import SimSystem, World

__all__ = [
    "Answer",
    "ForgetsToReplay",
    "FrangipaniSim",
    "ReplaysOldEntries",
    "Request",
    "SimRun",
    "SkipsTheLog",
    "run_workload",
]

SERVER: NodeId = "n0"


@dataclass(frozen=True)
class Request:
    command: dict[str, Any]


@dataclass(frozen=True)
class Answer:
    answer: dict[str, Any]


class ServerCore:
    """Node n0: the shared service and the lease keeper (a recovery service, 恢复服务)."""

    def __init__(self, service: FrangipaniService, lease_ticks: int, observe: Any) -> None:
        self.service = service
        self.lease_ticks = lease_ticks
        self.observe = observe
        self.now = 0
        self.pulse: dict[str, tuple[int, int]] = {}  # ws -> (renews seen, when)
        self._out: list[Envelope] = []

    def tick(self) -> None:
        self.now += 1
        for ws, epoch in list(self.service.epochs.items()):
            renews = self.service.renews.get(ws, 0)
            seen, since = self.pulse.get(ws, (-1, self.now))
            if renews != seen:
                self.pulse[ws] = (renews, self.now)
            elif self.now - since >= self.lease_ticks and self._active(ws):
                self.observe(ws, {"op": "recover", "ws": ws, "epoch": epoch})
                self.service.apply({"op": "recover", "ws": ws, "epoch": epoch})

    def _active(self, ws: str) -> bool:
        service = self.service
        return bool(service.logs.get(ws)) or any(
            ws in lock["holders"] for lock in service.locks.values()
        )

    def receive(self, sender: NodeId, message: Any) -> None:
        if isinstance(message, Request):
            self.observe(sender, message.command)
            before = {ws: set(locks) for ws, locks in self.service.revoking.items()}
            answer = self.service.apply(message.command)
            for ws, locks in self.service.revoking.items():
                for name in sorted(set(locks) - before.get(ws, set())):
                    self.observe(ws, {"op": "revoked", "lock": name, "for": sender})
            self._out.append(Envelope(SERVER, sender, Answer(answer)))

    def has_ready(self) -> bool:
        return bool(self._out)

    def take_ready(self) -> Ready:
        out, self._out = self._out, []
        return Ready(messages=out)


class WorkstationCore:
    """A workstation node: drives its `Workstation` core one command at a time."""

    def __init__(self, node_id: NodeId, workstation: Workstation) -> None:
        self.node_id = node_id
        self.ws = workstation
        self._out: list[Envelope] = []
        self._done = 0
        self._waited = 0

    RESEND_TICKS = 30
    """A request unanswered this long was lost (a cut-off network): send it again. Far above
    any delivery delay, so a request that was merely slow is never applied twice."""

    def _pump(self) -> None:
        command = self.ws.next_command()
        if command is not None:
            self._waited = 0
            self._out.append(Envelope(self.node_id, SERVER, Request(command)))

    def tick(self) -> None:
        self.ws.tick()
        if self.ws.outstanding is not None:
            self._waited += 1
            if self._waited >= self.RESEND_TICKS:
                self._waited = 0
                self._out.append(Envelope(self.node_id, SERVER, Request(self.ws.outstanding)))
        self._pump()

    def receive(self, sender: NodeId, message: Any) -> None:
        if isinstance(message, Answer):
            self.ws.on_answer(message.answer)
            self._pump()

    def submit(self, op: tuple[Any, ...]) -> int:
        op_id = self.ws.submit(op)
        self._pump()
        return op_id

    def has_ready(self) -> bool:
        return bool(self._out) or len(self.ws.completed) > self._done

    def take_ready(self) -> Ready:
        out, self._out = self._out, []
        done = self.ws.completed[self._done :]
        self._done = len(self.ws.completed)
        return Ready(messages=out, outputs=list(done))


class FrangipaniSim(SimSystem):
    """See the module docstring. ``service_cls`` / ``workstation_cls``: mutants."""

    def __init__(
        self,
        *,
        write_back_on_revoke: bool = True,
        lease_ticks: int = 60,
        service_cls: type[FrangipaniService] = FrangipaniService,
        workstation_cls: type[Workstation] = Workstation,
    ) -> None:
        self.service = service_cls()
        self.write_back_on_revoke = write_back_on_revoke
        self.lease_ticks = lease_ticks
        self.workstation_cls = workstation_cls
        self.completions: list[tuple[int, NodeId, Any]] = []
        self.logged: dict[
            tuple[str, str, int], tuple[int, int]
        ] = {}  # (ws, key, ver) -> epoch, seq
        self.uncovered: list[tuple[str, int, str, int]] = []  # ws, epoch, key, version
        self.versions: dict[str, int] = {}
        self.messages = 0
        self.events: list[tuple[int, str, str]] = []  # (tick, node, what) for panels
        self.strict = write_back_on_revoke
        self.broken: list[str] = []  # invariants broken (only when not strict)

    def _violation(self, name: str, detail: str) -> None:
        """Raise (strict, the default) or note the broken rule (the teaching switch's run,
        which shows what the checker sees when the protocol is broken on purpose)."""
        if self.strict:
            self.world.violation(name, detail)
        if name not in self.broken:
            self.broken.append(name)

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> Any:
        if node_id == SERVER:  # the shared service is durable (replicated on Raft for real)
            return ServerCore(self.service, self.lease_ticks, self._observe)
        return WorkstationCore(
            node_id,
            self.workstation_cls(
                node_id,
                write_back_on_revoke=self.write_back_on_revoke,
                lease_ticks=self.lease_ticks - 10,  # a margin below the server's lease
            ),
        )

    def output(self, node_id: NodeId, core: Any, item: Any) -> None:
        self.completions.append((self.world.now, node_id, item))

    def _observe(self, sender: str, command: dict[str, Any]) -> None:
        """Ghost state for the invariants: what each command is about to do."""
        service = self.service
        op = command.get("op")
        now = self.world.now if hasattr(self, "world") else 0
        if op == "revoked":  # the server asks ``sender`` to give a lock back
            self._event(now, sender, f"revoke {command['lock']} (wanted by {command['for']})")
            return
        self.messages += 1
        ws = command.get("ws", sender)
        if command.get("epoch") != service.epochs.get(ws) and op != "recover":
            return
        if op == "log":
            self._event(now, ws, f"appends {len(command['entries'])} log entries to the disk")
            for entry in command.get("entries", []):
                for key, block in entry["blocks"].items():
                    self.logged[(ws, key, block[0])] = (service.epochs[ws], entry["seq"])
                    self.uncovered.append((ws, service.epochs[ws], key, block[0]))
        elif op == "release":
            for key, block in command.get("blocks", {}).items():
                if (ws, key, block[0]) not in self.logged:
                    self._violation(
                        "Log before blocks",
                        f"{ws} writes {key} v{block[0]} back before its log entry is on the disk",
                    )
            if command.get("locks"):
                self._event(
                    now,
                    ws,
                    f"writes back {len(command.get('blocks', {}))} block(s), releases "
                    f"{', '.join(command['locks'])}",
                )
        elif op == "recover":
            self._event(now, ws, "recovered: log replayed, then locks released")
        elif op == "acquire":
            self._event(now, ws, f"asks {command['mode']} lock on {command['lock']}")

    def _event(self, now: int, node: str, what: str) -> None:
        if not self.events or self.events[-1][1:] != (node, what):  # polls repeat themselves
            self.events.append((now, node, what))

    def after_event(self, node_id: NodeId, core: Any) -> None:
        service = self.service
        for key, (version, _) in service.blocks.items():
            if version < self.versions.get(key, 0):
                self._violation(
                    "Versions never go back",
                    f"{key} went from v{self.versions[key]} back to v{version}",
                )
            self.versions[key] = version
        still = []
        for ws, epoch, key, version in self.uncovered:
            if service.blocks.get(key, [0])[0] >= version:
                continue
            lock = service.locks.get(key, {})
            if service.epochs.get(ws) == epoch and ws in lock.get("holders", []):
                still.append((ws, epoch, key, version))
                continue
            self._violation(
                "Replay before release",
                f"{ws}'s logged {key} v{version} is not on the disk, yet {ws} no longer "
                f"holds its lock (disk has v{service.blocks.get(key, [0])[0]})",
            )
        self.uncovered = still
        for name, lock in service.locks.items():
            if lock["mode"] == "w" and len(lock["holders"]) > 1:
                self._violation("Single writer", f"{name} has writers {lock['holders']}")
        for other, other_core in self.world.nodes.items():
            if isinstance(other_core, WorkstationCore):
                station = other_core.ws
                # A release in flight has already freed the lock: judge only a settled workstation.
                if station.outstanding is None and station.epoch == service.epochs.get(other):
                    stray = set(station.cache) - {
                        k for k, lk in service.locks.items() if other in lk["holders"]
                    }
                    if stray:
                        self._violation(
                            "Single writer", f"{other} caches {sorted(stray)} without a lock"
                        )
        if not any(lock["holders"] for lock in service.locks.values()):
            problem = directory_problem(service)
            if problem:
                self._violation("Directory matches files", problem)

    def fields(self, core: Any) -> dict[str, Any]:
        if isinstance(core, ServerCore):
            return {"role": "lock server + disk", "recoveries": core.service.recoveries}
        return {"role": "workstation", **core.ws.view()}


def directory_problem(service: FrangipaniService) -> str | None:
    """What is wrong with the disk's directory (it must list exactly the files), or None."""
    listed = set(service.blocks.get(ROOT, [0, []])[1])
    existing = {
        key for key, block in service.blocks.items() if key != ROOT and block[1] is not None
    }
    if listed != existing:
        return f"directory lists {sorted(listed)} but the files are {sorted(existing)}"
    return None


# ---------------------------------------------------------------------------------------
# Mutants (each breaks one rule; a test shows the simulator catches it)
# ---------------------------------------------------------------------------------------


class ForgetsToReplay(FrangipaniService):
    """Recovery releases the dead workstation's locks without replaying its log."""

    def replay(self, entries: list[dict[str, Any]]) -> None:
        pass


class ReplaysOldEntries(FrangipaniService):
    """Replay without the version check: an old log overwrites newer blocks."""

    def replay(self, entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            for key, block in entry["blocks"].items():
                self.blocks[key] = list(block)


class SkipsTheLog(Workstation):
    """Writes blocks back on revoke without appending the log first."""

    def _handle_revoke(self, locks: list[str]) -> dict[str, Any]:
        blocks = {key: list(self.cache[key]) for key in locks if key in self.dirty}
        self.unflushed = [e for e in self.unflushed if not set(e["blocks"]) & set(blocks)]
        return {"op": "release", "blocks": blocks, "locks": list(locks), "trim": None}


# ---------------------------------------------------------------------------------------
# A seeded workload with crashes, judged by the checker
# ---------------------------------------------------------------------------------------


@dataclass
class SimRun:
    """What one seeded run did, and the verdicts."""

    seed: int
    history: History
    verdict: str
    completed: int
    lost: int  # acknowledged writes not yet logged when their workstation crashed
    synced_lost: int  # acknowledged before a completed sync, yet lost (must be 0)
    messages: int
    recoveries: int
    errors: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    world: World | None = None


def run_workload(
    seed: int,
    *,
    workstations: int = 3,
    files: int = 2,
    ops_per_ws: int = 30,
    crashes: int = 1,
    write_back_on_revoke: bool = True,
    service_cls: type[FrangipaniService] = FrangipaniService,
    workstation_cls: type[Workstation] = Workstation,
    max_ticks: int = 20_000,
) -> SimRun:
    """Run a seeded workload on ``workstations`` workstations; see the module docstring."""
    if not 1 <= workstations <= 5:
        raise ValueError(f"workstations is 1..5, got {workstations}")
    rng = random.Random(seed)
    system = FrangipaniSim(
        write_back_on_revoke=write_back_on_revoke,
        lease_ticks=60,
        service_cls=service_cls,
        workstation_cls=workstation_cls,
    )
    world = World(system, seed, workstations + 1)
    names = [f"n{i}" for i in range(1, workstations + 1)]
    paths = [f"/f{i}" for i in range(files)]
    # Setup: n1 creates the shared files and syncs (not part of the checked history).
    for path in paths:
        world.operate("n1", lambda core, p=path: core.submit(("create", p, "")))  # type: ignore[misc]
    world.operate("n1", lambda core: core.submit(("sync",)))
    world.run_until(lambda: len(system.completions) >= files + 1, 2000)
    system.completions.clear()

    clock = [0]

    def stamp() -> int:
        clock[0] += 1
        return world.now * 1_000_000 + clock[0]

    records: dict[tuple[str, int, int], dict[str, Any]] = {}
    life = dict.fromkeys(names, 0)  # each restart is a new incarnation with new op ids
    plans = {name: _plan(rng, name, paths, ops_per_ws) for name in names}
    next_at = {name: rng.randint(1, 5) for name in names}
    crash_at = sorted(rng.randint(50, 400) for _ in range(crashes))
    crash_plan = [(at, rng.choice(names), rng.randint(10, 120)) for at in crash_at]
    restart_at: dict[str, int] = {}
    errors: list[str] = []
    lost = synced_lost = 0
    synced_upto: dict[str, int] = {}  # ws -> newest op id acknowledged before a completed sync
    busy: dict[str, int | None] = dict.fromkeys(names)
    seen = 0

    def finish_lost(name: str, core: WorkstationCore) -> None:
        nonlocal lost, synced_lost
        logged = core.ws.logged_seq
        for seq, op_ids in core.ws.entry_ops.items():
            if seq > logged:
                for op_id in op_ids:
                    record = records.get((name, life[name], op_id))
                    if record is not None and record["status"] == "ok":
                        record["status"] = "info"
                        lost += 1
                        if op_id <= synced_upto.get(name, 0):
                            synced_lost += 1
        # Reads after the first lost write may have seen it (from this workstation's own
        # cache): what the crash took away was never durable, so they are indefinite too.
        first = min(
            (op_id for seq, ids in core.ws.entry_ops.items() if seq > logged for op_id in ids),
            default=None,
        )
        if first is not None:
            for (who, incarnation, op_id), record in records.items():
                if (
                    who == name
                    and incarnation == life[name]
                    and op_id > first
                    and record["status"] == "ok"
                ):
                    record["status"] = "info"
        for op_id, _ in core.ws.queue:
            record = records.get((name, life[name], op_id))
            if record is not None and record["status"] is None:
                record["status"] = "info"
                record["complete"] = stamp()

    def take_completions() -> None:
        nonlocal seen
        while seen < len(system.completions):
            _, name, done = system.completions[seen]
            seen += 1
            busy[name] = None
            next_at[name] = world.now + rng.randint(0, 6)
            record = records.get((name, life[name], done.op_id))
            if record is not None and record["status"] is None:
                record["complete"] = stamp()
                record["status"] = "ok" if done.ok else "fail"
                record["output"] = done.value if record["kind"] == "get" else None
            if done.op[0] == "sync" and done.ok:
                synced_upto[name] = done.op_id
            if not done.ok and done.error and done.op[0] in ("read", "write"):
                errors.append(f"{name} {done.op}: {done.error}")

    for _ in range(max_ticks):
        take_completions()  # first: a crash below must know what was acknowledged
        now = world.now
        for at, victim, down in list(crash_plan):
            if now >= at and world.nodes[victim] is not None:
                finish_lost(victim, world.nodes[victim])
                world.crash(victim)
                synced_upto.pop(victim, None)
                system.events.append((now, victim, "crashed"))
                restart_at[victim] = now + down
                busy[victim] = None
                crash_plan.remove((at, victim, down))
        for victim, at in list(restart_at.items()):
            if now >= at:
                world.restart(victim)
                life[victim] += 1
                del restart_at[victim]
        for name in names:
            core = world.nodes[name]
            if core is None or busy[name] is not None or not plans[name] or now < next_at[name]:
                continue
            op = plans[name].pop(0)
            op_id = world.operate(name, lambda c, o=op: c.submit(o))  # type: ignore[misc]
            assert op_id is not None
            busy[name] = op_id
            if op[0] in ("read", "write"):
                records[(name, life[name], op_id)] = {
                    "client": name,
                    "kind": "get" if op[0] == "read" else "put",
                    "key": op[1],
                    "value": op[2] if op[0] == "write" else None,
                    "output": None,
                    "invoke": stamp(),
                    "complete": None,
                    "status": None,
                }
        if (
            all(not plans[n] and busy[n] is None for n in names)
            and not restart_at
            and not crash_plan
        ):
            break
        world.run_for(1)

    # Every workstation syncs, then the directory must match the files.
    for name in names:
        world.operate(name, lambda c: c.submit(("sync",)))
    world.run_until(lambda: all(not world.nodes[n].ws.queue for n in names), 3000)
    for name in names:
        world.operate(name, lambda c: c.ws.revokes.extend(sorted(c.ws.held)))
    world.run_until(
        lambda: not any(lock["holders"] for lock in system.service.locks.values()), 3000
    )
    problem = directory_problem(system.service)
    if problem:
        system._violation("Directory matches files", problem)

    operations = []
    for index, record in enumerate(records.values()):
        status: Any = record["status"] or "info"
        output = record["output"] if status == "ok" else None
        operations.append(
            Operation(
                id=index,
                client=record["client"],
                kind=record["kind"],
                key=record["key"],
                value=record["value"],
                output=output,
                invoke=record["invoke"],
                complete=record["complete"],
                status=status,
            )
        )
    history = History.from_operations(operations)
    verdict = check_linearizable(history).verdict
    return SimRun(
        seed=seed,
        history=history,
        verdict=verdict,
        completed=len(system.completions),
        lost=lost,
        synced_lost=synced_lost,
        messages=system.messages,
        recoveries=system.service.recoveries,
        errors=errors,
        broken=system.broken,
        world=world,
    )


def _plan(rng: random.Random, name: str, paths: list[str], count: int) -> list[tuple[Any, ...]]:
    """A workstation's seeded operations: mostly reads and writes of the shared files, some
    directory changes on its own scratch files, and syncs."""
    plan: list[tuple[Any, ...]] = []
    scratch = f"/tmp-{name}"
    for index in range(count):
        roll = rng.random()
        if roll < 0.45:
            plan.append(("read", rng.choice(paths)))
        elif roll < 0.8:
            plan.append(("write", rng.choice(paths), f"{name}.{index}"))
        elif roll < 0.88:
            plan.append(("create", scratch, f"{name}.{index}"))
        elif roll < 0.93:
            plan.append(("rename", scratch, scratch + "-moved"))
        elif roll < 0.96:
            plan.append(("delete", rng.choice([scratch, scratch + "-moved"])))
        else:
            plan.append(("sync",))
    return plan
