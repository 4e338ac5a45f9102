"""The KV store in the simulator: weak replicas and KV on Raft, clients waiting in virtual time.

What it is: the simulator's face of the same cores the real processes run, so that one
scenario and one checker judge both drivers (tests/kv/test_one_scenario_two_drivers.py):

- `WeakKVSystem`: a `distlab.sim.SimSystem` of `WeakReplica` cores; each node's durable
  table (the entries its `WeakReady.writes` listed) survives its crashes, like the real
  node's ``weak.log``. `weak_world(seed)` builds the `World`.
- `StrongKVSimulation`: Raft's `Simulation` whose nodes also apply every committed
  `Command` to a `KVStateMachine`; a get goes through the log or, by default, is a
  ReadIndex read (`read_key`), as in real processes.
- `SimClerk`: a KV client with the real `distlab.kv.Clerk`'s surface (``put``, ``get``,
  ``append``, ``preferred`` node, a deadline, one `History`): it offers the operation to a
  node, lets virtual time pass until that node answers, and fails over to the next node on
  a refusal or a timeout -- recording ``ok``, ``fail`` or ``info`` as the real Clerk does.

Clients reach every running node, even one cut off from the others (a client on the wrong
side of a partition), exactly as the real Clerk does: that is how a stale read happens.

What it must never do: read the wall clock or use unseeded randomness.
Where it fits: above `distlab.sim` and the KV cores; beside `distlab.kv.weak_node` and
`distlab.kv.strong_node`, which run the same cores in real processes.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from distlab.check.history import History
from distlab.core import NodeId, derive_seed
from distlab.kv.clerk import READ_PATHS, KVOperations
from distlab.kv.state_machine import Command, KVStateMachine, OpKind
from distlab.kv.weak import CODEC, Update, WeakReady, WeakReplica
from distlab.raft.core import RaftConfig, RaftNode
from distlab.raft.ready import ApplyMsg, CommandApplied, Proposed, ReadReady
from distlab.sim.network import RELIABLE, NetworkConfig
from distlab.sim.simulation import Simulation
from distlab.sim.world import SimSystem, World

__all__ = [
    "SimClerk",
    "StrongKVSimulation",
    "WeakKVSystem",
    "strong_world",
    "virtual_clock",
    "weak_world",
]


class WeakKVSystem(SimSystem):
    """How the weak store runs in a `World` (see the module docstring)."""

    def __init__(self, *, anti_entropy_every_ticks: int = 10) -> None:
        self.anti_entropy_every_ticks = anti_entropy_every_ticks
        self.durable: dict[NodeId, dict[str, Update]] = {}

    def boot(self, node_id: NodeId, peers: tuple[NodeId, ...], rng: random.Random) -> WeakReplica:
        replica = WeakReplica(
            node_id, list(peers), rng, anti_entropy_every_ticks=self.anti_entropy_every_ticks
        )
        replica.recover(self.durable.get(node_id, {}).values())
        return replica

    def persist(self, node_id: NodeId, core: WeakReplica, ready: WeakReady) -> None:
        table = self.durable.setdefault(node_id, {})
        for update in ready.writes:
            table[update.key] = update

    def fields(self, core: WeakReplica) -> dict[str, Any]:
        stats = core.statistics()
        return {"role": "replica", "keys": stats.keys, "lamport_clock": stats.lamport_clock}

    def message_size(self, message: Any) -> int:
        return len(msgpack.packb(CODEC.encode(message)))


def weak_world(
    seed: int, nodes: int = 3, *, network: NetworkConfig = RELIABLE, **options: Any
) -> World:
    """A `World` of weak replicas (``anti_entropy_every_ticks`` among the options)."""
    return World(WeakKVSystem(**options), seed, nodes, network=network)


class StrongKVSimulation(Simulation):
    """Raft's `Simulation` whose services are `KVStateMachine`s fed by the apply channel."""

    def __init__(self, seed: int, nodes: int = 3, **options: Any) -> None:
        self.machines: dict[NodeId, KVStateMachine] = {}
        # What each node's state machine answered, by log index: (term, result).
        self.answers: dict[NodeId, dict[int, tuple[int, str]]] = {}
        # ReadIndex reads: the key each asks for, and the value its node's table answered.
        self._read_keys: dict[int, str] = {}
        self.read_values: dict[int, str] = {}
        super().__init__(seed, nodes, **options)

    def read_key(self, node_id: NodeId, key: str, *, follower_ok: bool = False) -> int | None:
        """Start a ReadIndex read of ``key`` at one node (with ``follower_ok``, a follower's
        too): its number (the value appears in ``read_values``, or a refusal in ``reads``),
        or None if refused or crashed."""
        request = self.read(node_id, follower_ok=follower_ok)
        if not isinstance(request, int):
            return None
        self._read_keys[request] = key
        if request in self.reads:  # answered at once (a cluster of one)
            self._answer_value(node_id, request)
        return request

    def node_starting(self, node_id: NodeId) -> None:
        # A new incarnation starts empty; Raft replays the committed log into it.
        self.machines[node_id] = KVStateMachine()
        self.answers[node_id] = {}
        super().node_starting(node_id)

    def apply_entry(self, node_id: NodeId, node: RaftNode, item: ApplyMsg) -> None:
        super().apply_entry(node_id, node, item)
        if isinstance(item, CommandApplied) and isinstance(item.command, Command):
            applied = self.machines[node_id].apply(item.command)
            self.answers[node_id][item.index] = (item.term, applied.value)
        elif isinstance(item, ReadReady) and item.request in self._read_keys:
            self._answer_value(node_id, item.request)

    def _answer_value(self, node_id: NodeId, request: int) -> None:
        key = self._read_keys.pop(request)
        self.read_values[request] = self.machines[node_id].data.get(key, "")


def strong_world(seed: int, nodes: int = 3, **options: Any) -> StrongKVSimulation:
    """KV on Raft in the simulator, with 10-ms ticks like the real peers' defaults
    (election timeouts of 150-300 ms, heartbeats every 50 ms)."""
    options.setdefault("config", RaftConfig(election_timeout_ticks=(15, 30)))
    return StrongKVSimulation(seed, nodes, **options)


def virtual_clock(world: World) -> Callable[[], int]:
    """A History clock for a World: the tick, then the order of calls within the tick.

    Strictly increasing, so an operation that completes before another is invoked (even in
    the same tick) is ordered before it, as the checker must see it.
    """
    calls = itertools.count()
    return lambda: world.now * 1_000_000 + next(calls)


@dataclass
class _Outcome:
    value: str | None = None
    done: bool = False
    refused: bool = False  # certainly not applied by this attempt


class SimClerk(KVOperations):
    """A KV client in virtual time, shaped like `distlab.kv.Clerk` (see the module docstring).

    ``world`` is a `World` of weak replicas or a `StrongKVSimulation`. ``deadline_s`` and
    ``attempt_timeout_s`` are virtual seconds (``world.ticks_per_second`` ticks each).
    ``reads`` is the strong store's read path, as for the real Clerk: ``"read_index"`` (the
    default), ``"log"`` or ``"follower"`` (a get starts at a seeded choice of node).
    """

    def __init__(
        self,
        world: World,
        *,
        client_id: str,
        history: History,
        preferred: NodeId | None = None,
        deadline_s: float = 5.0,
        attempt_timeout_s: float = 1.0,
        reads: str = "read_index",
    ) -> None:
        if reads not in READ_PATHS:
            raise ValueError(f"reads must be one of {READ_PATHS}, got {reads!r}")
        self.reads = reads
        self.world = world
        self.client_id = client_id
        self.history = history
        self.deadline_ticks = max(1, round(deadline_s * world.ticks_per_second))
        self.attempt_ticks = max(1, round(attempt_timeout_s * world.ticks_per_second))
        names = list(world.names)
        self._names = names
        self._target = preferred if preferred is not None else names[0]
        self._seq = itertools.count(1)
        self._rng = random.Random(derive_seed(world.seed, "sim-clerk", client_id))

    def close(self) -> None:
        """Nothing to release (the real Clerk closes its connections)."""

    def _operation(self, op: OpKind, key: str, value: str) -> str:
        command = Command(self.client_id, next(self._seq), op, key, value)
        call = self.history.invoke(self.client_id, op, key, None if op == "get" else value)
        deadline = self.world.now + self.deadline_ticks
        maybe_applied = False
        target = self._target
        if op == "get" and self.reads == "follower":
            target = self._rng.choice(self._names)  # spread follower reads over the nodes
        while self.world.now < deadline:
            ticks = min(self.attempt_ticks, deadline - self.world.now)
            outcome = self._attempt(target, command, ticks)
            if outcome.done:
                self.history.ok(call, outcome.value if op == "get" else None)
                return outcome.value or ""
            maybe_applied = maybe_applied or not outcome.refused
            self._target = self._names[(self._names.index(target) + 1) % len(self._names)]
            target = self._target
            self.world.run_for(1 + self._rng.randrange(3))  # a short, seeded backoff
        if maybe_applied:
            self.history.info(call)
        else:
            self.history.fail(call)
        raise TimeoutError(f"{op}({key!r}) by {self.client_id}: no answer before the deadline")

    def _attempt(self, node_id: NodeId, command: Command, ticks: int) -> _Outcome:
        world = self.world
        if not world.alive(node_id):
            return _Outcome(refused=True)  # connection refused: certainly not applied
        if isinstance(world, StrongKVSimulation):
            if command.op == "get" and self.reads != "log":
                return self._attempt_read(world, node_id, command.key, ticks)
            return self._attempt_strong(world, node_id, command, ticks)
        assert isinstance(world.system, WeakKVSystem), "SimClerk runs on weak or strong KV worlds"
        value = world.operate(
            node_id, lambda core: core.execute(command.op, command.key, command.value)
        )
        return _Outcome(value=value, done=True)

    def _attempt_read(
        self, world: StrongKVSimulation, node_id: NodeId, key: str, ticks: int
    ) -> _Outcome:
        follower_ok = self.reads == "follower"
        request = world.read_key(node_id, key, follower_ok=follower_ok)
        if request is None:
            return _Outcome(refused=True)  # not the leader: a read changes nothing anyway

        def answered() -> bool:
            return request in world.reads or not world.alive(node_id)

        world.run_until(answered, ticks)
        if request in world.read_values:
            return _Outcome(value=world.read_values.pop(request), done=True)
        return _Outcome(refused=True)  # refused, crashed or still unconfirmed: nothing read

    def _attempt_strong(
        self, world: StrongKVSimulation, node_id: NodeId, command: Command, ticks: int
    ) -> _Outcome:
        proposed = world.propose(node_id, command)
        if not isinstance(proposed, Proposed):
            return _Outcome(refused=True)  # not the leader: certainly not applied

        def answered() -> bool:
            return proposed.index in world.answers[node_id] or not world.alive(node_id)

        world.run_until(answered, ticks)
        answer = world.answers[node_id].get(proposed.index) if world.alive(node_id) else None
        if answer is None:
            return _Outcome()  # timed out: the entry may still commit later
        term, value = answer
        if term != proposed.term:
            return _Outcome(refused=True)  # another entry won the index: ours never will
        return _Outcome(value=value, done=True)
