"""A key/value service on Raft in the simulator: servers, clerks, a nemesis, and a history.

What it is: `KVRaftSimulation` is a `Simulation` whose nodes each carry a KV
server object (a `KVServer` subclass) next to their Raft core. Every command
Raft applies is also handed to that node's server (``apply(index, command)``); a
crash throws the server away with the node, and a restart builds a new one,
which Raft then feeds the committed log again from index 1. `Clerk` objects
(simulated clients) send `distlab.kv.state_machine.Command` requests to servers,
retry on "wrong leader" or after a timeout with the same ``(client_id, seq)``,
and record every operation in a `distlab.check.History` on the simulation's
event order, so `distlab.check.check_linearizable` can judge the run.
`run_kv_workload(server_cls, seed, ...)` runs clerks under a seeded nemesis
(crashes, restarts, partitions, an unreliable network; named in the one fault
vocabulary, `distlab.core.FaultKind`) and returns the history and the final
state; `WorkloadResult.judge()` gives the verdict and the summary every workload
gives (`distlab.check.outcome.judge_run`).

Clerks reach every running server, even one cut off from the other servers by a
partition (as a client on the wrong side of a partition would): that is how a
stale leader gets the chance to answer a read it should not.

What it must never do: use the wall clock or unseeded randomness; the same
server class and seed give the same history, event for event.
Where it fits: the deterministic driver for assignment 6
(`distlab.assignments.kv_raft`); it reuses `Simulation`'s network, disks and
safety checks unchanged (it only extends the hooks `node_starting` and `apply_entry`).
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.check.history import History, PendingCall
from distlab.check.outcome import Judgement, judge_run
from distlab.check.workload import OperationMix, write_value
from distlab.core import FaultKind, derive_seed
from distlab.kv.state_machine import Command
from distlab.raft.core import RaftNode
from distlab.raft.messages import NodeId
from distlab.raft.ready import ApplyMsg, CommandApplied, NotLeader, Proposed
from distlab.sim.faults import UNRELIABLE_NETWORK
from distlab.sim.network import RELIABLE, UNRELIABLE
from distlab.sim.simulation import Simulation

__all__ = ["Clerk", "KVRaftSimulation", "KVServer", "WorkloadResult", "run_kv_workload"]

WRONG_LEADER = "wrong leader"
CLERK_TIMEOUT_TICKS = 40


class KVServer:
    """One node's KV server. Subclass it and write `setup`, `handle_request` and `apply`.

    Helpers: `propose` (Raft's ``Start``: returns `Proposed` with the index and term,
    or `NotLeader`) and `reply` (answer a clerk's request by its id).
    """

    def __init__(
        self,
        node_id: NodeId,
        propose: Callable[[Command], Proposed | NotLeader],
        reply: Callable[[int, str | None, str | None], None],
    ) -> None:
        self.node_id = node_id
        self._propose = propose
        self._reply = reply
        self.setup()

    def setup(self) -> None:
        """Create the server's state (called once per start, also after a restart)."""

    def propose(self, command: Command) -> Proposed | NotLeader:
        """Offer ``command`` to this node's Raft; `Proposed` says at which index and term."""
        return self._propose(command)

    def reply(self, request_id: int, value: str | None = None, *, error: str | None = None) -> None:
        """Answer request ``request_id``: a value (``""`` for put/append), or an error."""
        self._reply(request_id, value, error)

    def handle_request(self, request_id: int, command: Command) -> None:
        """A clerk's request arrived at this server."""
        raise NotImplementedError("write handle_request in your subclass")

    def apply(self, index: int, command: Command) -> None:
        """Raft committed ``command`` at ``index`` (called once per index, in order)."""
        raise NotImplementedError("write apply in your subclass")


class KVRaftSimulation(Simulation):
    """A `Simulation` whose nodes also run a `KVServer` fed by the apply channel."""

    def __init__(self, seed: int, nodes: int, server_cls: type[KVServer], **kwargs: Any) -> None:
        self.server_cls = server_cls
        self.servers: dict[NodeId, KVServer | None] = {}
        self._routes: dict[int, Callable[[str | None, str | None], None]] = {}
        self._request_ids = itertools.count(1)
        super().__init__(seed, nodes, **kwargs)

    # -- the two extension points of Simulation ---------------------------------------------

    def node_starting(self, node_id: NodeId) -> None:
        self.servers[node_id] = self.server_cls(
            node_id,
            propose=functools.partial(self._propose_for, node_id),
            reply=self._deliver_reply,
        )
        super().node_starting(node_id)

    def apply_entry(self, node_id: NodeId, node: RaftNode, item: ApplyMsg) -> None:
        from distlab.raft.core import is_noop  # (loaded already; kept local to this method)

        # The simulator's own service sees every entry, the leaders' no-ops too: its
        # apply-order and State Machine Safety checks need the channel without gaps.
        super().apply_entry(node_id, node, item)
        server = self.servers.get(node_id)
        # A no-op is Raft's, not a clerk's: the KV server never sees it (as in RaftPeer), so
        # its apply() may skip an index; a request waiting there is retried by its clerk.
        if server is not None and isinstance(item, CommandApplied) and not is_noop(item.command):
            server.apply(item.index, item.command)

    def crash(self, node_id: NodeId) -> None:
        """Kill a node and its KV server (pending requests on it get no answer)."""
        super().crash(node_id)
        self.servers[node_id] = None

    # -- requests and replies ------------------------------------------------------------------

    def _propose_for(self, node_id: NodeId, command: Command) -> Proposed | NotLeader:
        result = self.propose(node_id, command)
        return result if result is not None else NotLeader(None)

    def send_request(
        self, node_id: NodeId, command: Command, on_reply: Callable[[str | None, str | None], None]
    ) -> bool:
        """Deliver ``command`` to ``node_id``'s server now; False if that node is down."""
        server = self.servers.get(node_id)
        if server is None:
            return False
        request_id = next(self._request_ids)
        self._routes[request_id] = on_reply
        server.handle_request(request_id, command)
        return True

    def _deliver_reply(self, request_id: int, value: str | None, error: str | None) -> None:
        route = self._routes.pop(request_id, None)
        if route is None:
            raise RuntimeError(f"reply to request {request_id}, which was already answered")
        route(value, error)


@dataclass
class _Outstanding:
    command: Command
    call: PendingCall
    target: int
    sent_at: int
    attempt: int = 0


class Clerk:
    """A simulated client: one operation at a time, retried until answered, recorded."""

    def __init__(
        self, sim: KVRaftSimulation, client_id: str, history: History, rng: random.Random
    ) -> None:
        self.sim = sim
        self.client_id = client_id
        self.history = history
        self.rng = rng
        self.seq = 0
        self.leader_hint = rng.randrange(len(sim.node_ids))
        self.current: _Outstanding | None = None
        self.acknowledged: list[Command] = []
        self.results: list[tuple[Command, str]] = []

    @property
    def busy(self) -> bool:
        return self.current is not None

    def start(self, op: str, key: str, value: str = "") -> None:
        """Begin a new operation (the previous one must be finished)."""
        if self.current is not None:
            raise RuntimeError(f"{self.client_id} already has an operation outstanding")
        self.seq += 1
        command = Command(self.client_id, self.seq, op, key, value)  # type: ignore[arg-type]
        call = self.history.invoke(self.client_id, op, key, None if op == "get" else value)  # type: ignore[arg-type]
        self.current = _Outstanding(command, call, self.leader_hint, self.sim.now)
        self._send()

    def _send(self) -> None:
        current = self.current
        assert current is not None
        current.sent_at = self.sim.now
        current.attempt += 1
        node_id = self.sim.node_ids[current.target]
        attempt = (current.command.seq, current.attempt)
        self.sim.send_request(
            node_id,
            current.command,
            lambda value, error: self._on_reply(attempt, value, error),
        )

    def _on_reply(self, attempt: tuple[int, int], value: str | None, error: str | None) -> None:
        current = self.current
        if current is None or attempt != (current.command.seq, current.attempt):
            return  # an answer to an attempt we gave up on (maybe of an earlier operation)
        if error is not None:
            current.target = (current.target + 1) % len(self.sim.node_ids)
            current.sent_at = -CLERK_TIMEOUT_TICKS  # resend at the next step
            return
        self.leader_hint = current.target
        command = current.command
        self.history.ok(current.call, value if command.op == "get" else None)
        if command.op != "get":
            self.acknowledged.append(command)
        self.results.append((command, value or ""))
        self.current = None

    def step(self) -> None:
        """Once per tick: resend after a timeout or a refusal (to the next server)."""
        current = self.current
        if current is None:
            return
        if self.sim.now - current.sent_at >= CLERK_TIMEOUT_TICKS:
            if current.sent_at >= 0:
                current.target = (current.target + 1) % len(self.sim.node_ids)
            self._send()

    def give_up(self) -> None:
        """End of the run: an unanswered operation may or may not have happened."""
        if self.current is not None:
            self.history.info(self.current.call)
            self.current = None


@dataclass
class WorkloadResult:
    """A finished run: the history, what was acknowledged, and the final values."""

    seed: int
    history: History
    acknowledged: list[Command]
    final_values: dict[str, str]
    operations: int
    faults: int
    completed: int = 0
    elapsed_s: float = 0.0  # virtual seconds

    def judge(self, *, check_timeout_s: float = 10.0) -> Judgement:
        """The verdict and the `RunSummary` every workload gives (checker, staleness, lost
        writes). Latencies read 0: this history's clock counts events, not time."""
        return judge_run(
            self.history,
            self.final_values,
            system="distlab (simulated)",
            consistency="strong",
            elapsed_s=self.elapsed_s,
            faults=self.faults,
            check_timeout_s=check_timeout_s,
            time_unit_ns=0,
        )


# The clerks' operations: the shared mix's order (get, append, put), with gets at 45% and
# puts at ``put_rate`` (0 by default, so no put overwrites an append: every acknowledged
# append must then be in the final value).
_GET_FRACTION = 0.45


def _operation_mix(put_rate: float) -> OperationMix:
    append = max(0.0, 1.0 - _GET_FRACTION - put_rate)
    return OperationMix(get=1.0 - append - put_rate, append=append, put=put_rate)


def _nemesis_step(
    sim: KVRaftSimulation,
    script: random.Random,
    *,
    partitions: bool,
    crashes: bool,
    unreliable: bool,
) -> bool:
    ids = sim.node_ids
    options: list[FaultKind | frozenset[FaultKind]] = []
    if crashes:
        options += [FaultKind.CRASH, FaultKind.RESTART, FaultKind.RESTART]
    if partitions:
        options += [FaultKind.PARTITION, FaultKind.HEAL]
    if unreliable:
        options += [UNRELIABLE_NETWORK]
    if not options:
        return False
    fault = script.choice(options)
    if fault is FaultKind.CRASH:
        alive = [n for n in ids if sim.alive(n)]
        if len(alive) > len(ids) // 2 + 1:  # a majority stays up: the service must progress
            sim.crash(script.choice(alive))
    elif fault is FaultKind.RESTART:
        down = [n for n in ids if not sim.alive(n)]
        if down:
            sim.restart(script.choice(down))
    elif fault is FaultKind.PARTITION:
        shuffled = list(ids)
        script.shuffle(shuffled)
        cut = script.randint(1, len(ids) // 2)
        sim.partition(shuffled[:cut], shuffled[cut:])
    elif fault is FaultKind.HEAL:
        sim.heal()
    else:  # UNRELIABLE_NETWORK: on if it was off, off if it was on
        sim.set_network(UNRELIABLE if sim.network.config is RELIABLE else RELIABLE)
    return True


def run_kv_workload(
    server_cls: type[KVServer],
    seed: int,
    *,
    nodes: int = 5,
    clerks: int = 3,
    keys: tuple[str, ...] = ("x", "y"),
    ticks: int = 600,
    fault_every_ticks: int = 0,
    partitions: bool = False,
    crashes: bool = False,
    unreliable: bool = False,
    put_rate: float = 0.0,
) -> WorkloadResult:
    """Clerks run random put/append/get operations for ``ticks`` ticks under a seeded nemesis.

    Operations come from the shared seeded mix and written values are the shared unique
    tokens (`distlab.check.workload`: ``[c1.7]`` appended, ``<c1.7>`` put), so a lost or
    doubled write shows; with the default ``put_rate=0`` no put overwrites them, so every
    acknowledged append must still be in the final value.
    When the faults stop, the network heals, every node restarts, and one more
    clerk reads every key through the log (those reads are in the history too).

    Why this loop is not the threaded runner's (`distlab.check.workload.run_threaded`):
    here one thread steps virtual time, so clerks cannot block in a call; each tick every
    idle clerk may start an operation, every busy one may resend, then the simulation
    advances one tick. That is what makes a seed replay event for event, which a thread
    per client on a real clock cannot. What does not depend on the loop is shared: the
    mix, the tokens and the verdict (`WorkloadResult.judge`).
    """
    sim = KVRaftSimulation(seed, nodes, server_cls)
    counter = itertools.count()
    history = History(clock=lambda: next(counter))
    workload = random.Random(derive_seed(seed, "kv-workload"))
    script = random.Random(derive_seed(seed, "kv-nemesis"))
    mix = _operation_mix(put_rate)
    team = [
        Clerk(sim, f"c{i}", history, random.Random(derive_seed(seed, "clerk", i)))
        for i in range(clerks)
    ]
    faults = 0
    operations = 0
    for tick in range(ticks):
        if fault_every_ticks and tick and tick % fault_every_ticks == 0:
            faults += _nemesis_step(
                sim, script, partitions=partitions, crashes=crashes, unreliable=unreliable
            )
        for clerk in team:
            if not clerk.busy and workload.random() < 0.3:
                kind, key = mix.draw(workload, keys)
                if kind == "get":
                    clerk.start("get", key)
                else:
                    clerk.start(kind, key, write_value(kind, clerk.client_id, clerk.seq + 1))
                operations += 1
            clerk.step()
        sim.run_for(1)
    # The faults stop; every operation still open gets the chance to finish.
    sim.heal()
    sim.set_network(RELIABLE)
    for node_id in sim.node_ids:
        if not sim.alive(node_id):
            sim.restart(node_id)
    for _ in range(20 * CLERK_TIMEOUT_TICKS):
        if not any(clerk.busy for clerk in team):
            break
        for clerk in team:
            clerk.step()
        sim.run_for(1)
    for clerk in team:
        clerk.give_up()
    reader = Clerk(sim, "final", history, random.Random(derive_seed(seed, "clerk", "final")))
    final_reads = {}
    for key in keys:
        reader.start("get", key)
        for _ in range(20 * CLERK_TIMEOUT_TICKS):
            if not reader.busy:
                break
            reader.step()
            sim.run_for(1)
        if reader.busy:
            reader.give_up()
            sim.fail(f"the final read of {key!r} got no answer after the faults stopped")
        final_reads[key] = reader.results[-1][1]
    return WorkloadResult(
        seed=seed,
        history=history,
        acknowledged=[c for clerk in team for c in clerk.acknowledged],
        final_values=final_reads,
        operations=operations,
        faults=faults,
        completed=sum(len(clerk.results) for clerk in team),
        elapsed_s=sim.now / sim.ticks_per_second,
    )
