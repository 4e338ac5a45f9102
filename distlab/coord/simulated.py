"""The coordination service in the seeded simulator: the same CoordServer, clients in virtual time.

What it is:

- `CoordSimulation`: Raft's `distlab.sim.Simulation` whose every node hosts a `CoordServer`
  (built in ``node_starting``, fed by ``apply_entry``, exactly like the real `CoordNode`),
  and whose servers forward heartbeats and expire sessions each tick (`CoordServer.due`).
- `SimCoordClient`: a session with kazoo's method names that waits in *virtual* time.
- `SimClients`: runs several clients' code -- the very recipe functions that run on real
  processes and on kazoo -- as *cooperative* threads: exactly one runs at a time, and a
  client that waits (for an answer, a watch, a timeout) hands control back to the loop,
  which lets the world tick until some client can go on. The order is fixed, so one seed
  gives one run.

A client reaches the server it is attached to whenever that server runs (even one cut off
from the others: that is how a stale read happens); a write goes on from that server to the
leader only if the network lets it. ``freeze(client)`` stops a client's heartbeats and code
(a long GC pause); its session then expires through the log.

What it must never do: read the wall clock or use unseeded randomness.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

from kazoo import exceptions as kazoo_errors
from kazoo.protocol.states import EventType, KeeperState, WatchedEvent

from distlab.check.coordination import CoordHistory
from distlab.coord.kazoo_api import KazooAPI
from distlab.coord.server import CoordServer
from distlab.core import NodeId
from distlab.raft.core import RaftConfig, RaftNode, Role
from distlab.raft.ready import ApplyMsg, CommandApplied, Proposed
from distlab.sim.simulation import Simulation

__all__ = [
    "CoordSimulation",
    "ForgetsClientOrder",
    "SimClients",
    "SimCoordClient",
    "coord_world",
]

_FIRES = {
    "CREATED": ("data",),
    "CHANGED": ("data",),
    "DELETED": ("data", "child"),
    "CHILD": ("child",),
}


class CoordSimulation(Simulation):
    """Raft's `Simulation` whose nodes each host a `CoordServer` (see the module docstring)."""

    def __init__(
        self, seed: int, nodes: int = 3, *, touch_every_ms: float = 100.0, **options: Any
    ) -> None:
        if options.get("snapshot_interval") is not None:
            # Raft's simulator snapshots its digest service, not the tree: a restarted node
            # would miss the entries a snapshot covers. Real nodes snapshot the tree.
            raise ValueError("CoordSimulation does not take snapshot_interval")
        self.touch_every_ms = touch_every_ms
        self.servers: dict[NodeId, CoordServer] = {}
        # What each server's tree answered, by log index: (term, result).
        self.answers: dict[NodeId, dict[int, tuple[int, dict[str, Any]]]] = {}
        self.proposals = 0
        super().__init__(seed, nodes, **options)

    @property
    def ms_per_tick(self) -> float:
        return 1000.0 / self.ticks_per_second

    def node_starting(self, node_id: NodeId) -> None:
        # A new incarnation starts empty; Raft replays the committed log into it.
        self.servers[node_id] = CoordServer(self.touch_every_ms)
        self.answers[node_id] = {}
        super().node_starting(node_id)

    def apply_entry(self, node_id: NodeId, node: RaftNode, item: ApplyMsg) -> None:
        super().apply_entry(node_id, node, item)
        if isinstance(item, CommandApplied) and isinstance(item.command, dict):
            server = self.servers[node_id]
            server.set_clock(self.now * self.ms_per_tick)
            self.answers[node_id][item.index] = (item.term, server.apply(item.command))

    def paused(self, node_id: NodeId) -> bool:
        return node_id in self._paused

    def serving(self, node_id: NodeId) -> bool:
        """The server runs and is not paused: a client's request there gets an answer."""
        return self.alive(node_id) and not self.paused(node_id)

    def forward(self, node_id: NodeId, command: dict[str, Any]) -> Proposed | None:
        """Propose ``command`` at the leader as seen from ``node_id``, if it can reach it."""
        node = self.nodes[node_id]
        if node is None or self.paused(node_id):
            return None
        leader = node_id if node.role is Role.LEADER else node.leader_id
        if leader is None or not self.serving(leader):
            return None
        if leader != node_id and not self.network.can_deliver(node_id, leader):
            return None
        proposed = self.propose(leader, command)
        self.proposals += 1
        return proposed if isinstance(proposed, Proposed) else None

    def _step(self) -> None:
        super()._step()
        now_ms = self.now * self.ms_per_tick
        for node_id in self.node_ids:
            node = self.nodes[node_id]
            if node is None or self.paused(node_id):
                continue
            for command in self.servers[node_id].due(now_ms, node.role is Role.LEADER):
                self.forward(node_id, command)


def coord_world(seed: int, nodes: int = 3, **options: Any) -> CoordSimulation:
    """The coordination service in the simulator, with 10-ms ticks like the real peers'
    defaults (election timeouts of 150-300 ms, heartbeats every 50 ms)."""
    options.setdefault("config", RaftConfig(election_timeout_ticks=(15, 30)))
    return CoordSimulation(seed, nodes, **options)


# ======================================================================================
# Cooperative client threads
# ======================================================================================


class _Task:
    def __init__(self, name: str) -> None:
        self.name = name
        self.turn = threading.Semaphore(0)
        self.ready: Callable[[], bool] = lambda: True
        self.deadline = 0
        self.done = False
        self.error: BaseException | None = None
        self.result: Any = None


class SimClients:
    """Runs client code as cooperative threads on a `CoordSimulation` (module docstring)."""

    def __init__(self, world: CoordSimulation) -> None:
        self.world = world
        self.tasks: list[_Task] = []
        self.clients: list[SimCoordClient] = []
        self._loop = threading.Semaphore(0)
        self._current: _Task | None = None

    def client(
        self,
        server: NodeId | None = None,
        *,
        cls: type[SimCoordClient] | None = None,
        **options: Any,
    ) -> SimCoordClient:
        """A new session attached to ``server`` (opened when its task first calls it);
        ``cls`` a `SimCoordClient` subclass (a mutant)."""
        client = (cls or SimCoordClient)(self, server=server, **options)
        self.clients.append(client)
        return client

    def spawn(self, name: str, function: Callable[..., Any], *args: Any) -> _Task:
        """Run ``function(*args)`` as a client task (it starts at the next `run`)."""
        task = _Task(name)

        def body() -> None:
            task.turn.acquire()
            try:
                task.result = function(*args)
            except BaseException as error:  # reported by run(): the test sees it
                task.error = error
            finally:
                task.done = True
                self._loop.release()

        threading.Thread(target=body, name=f"sim-client-{name}", daemon=True).start()
        self.tasks.append(task)
        return task

    def wait_until(self, condition: Callable[[], bool], ticks: int) -> bool:
        """Called by a task: hand control back until ``condition()`` or ``ticks`` pass."""
        task = self._current
        if task is None:  # called from the loop itself (set-up code): just run the world
            return self.world.run_until(condition, ticks)
        if condition():
            return True
        task.ready = condition
        task.deadline = self.world.now + ticks
        self._loop.release()
        task.turn.acquire()
        return condition()

    def run(self, max_ticks: int, until: Callable[[], bool] | None = None) -> bool:
        """Let the world and the tasks run; True once every task finished (or ``until``)."""
        world = self.world
        end = world.now + max_ticks
        while True:
            progressed = True
            while progressed:
                progressed = False
                for task in self.tasks:
                    if task.done or not (task.ready() or world.now >= task.deadline):
                        continue
                    self._current = task
                    task.turn.release()
                    self._loop.acquire()
                    self._current = None
                    progressed = True
                    if task.error is not None:
                        error, task.error = task.error, None
                        raise error
            if all(task.done for task in self.tasks) or (until is not None and until()):
                return True
            if world.now >= end:
                return False
            world.run_for(1)
            for client in self.clients:
                client._heartbeat()


class _SimEvent:
    """``handler.event_object()`` in virtual time: ``wait`` lets the world run."""

    def __init__(self, clients: SimClients) -> None:
        self._clients = clients
        self._set = False

    def set(self) -> None:
        self._set = True

    def is_set(self) -> bool:
        return self._set

    def clear(self) -> None:
        self._set = False

    def wait(self, timeout: float | None = None) -> bool:
        world = self._clients.world
        ticks = 10**9 if timeout is None else max(1, round(timeout * world.ticks_per_second))
        return self._clients.wait_until(lambda: self._set, ticks)


class _SimHandler:
    def __init__(self, clients: SimClients) -> None:
        self._clients = clients

    def event_object(self) -> _SimEvent:
        return _SimEvent(self._clients)


_numbers = itertools.count(1)


class SimCoordClient(KazooAPI):
    """A session in the simulator with kazoo's API (like `distlab.coord.CoordClient`)."""

    def __init__(
        self,
        clients: SimClients,
        *,
        server: NodeId | None = None,
        timeout: float = 1.0,
        client_id: str | None = None,
        history: CoordHistory | None = None,
    ) -> None:
        self._clients = clients
        self.world = clients.world
        self.server = server or self.world.node_ids[0]
        self.timeout = timeout
        self.name = client_id or f"zk{next(_numbers)}"
        self.history = history
        self.handler = _SimHandler(clients)
        self.session_id = 0
        self.last_zxid = 0
        self.notifications = 0
        self.frozen = False
        self.expired = False
        self._seq = itertools.count(1)
        self._watches: dict[tuple[str, str], list[Callable[..., Any]]] = {}
        self._next_ping = 0

    @property
    def _ticks(self) -> int:
        return max(1, round(self.timeout * self.world.ticks_per_second))

    # ----- session ------------------------------------------------------------------

    def start(self) -> None:
        answer = self._write_raw({"op": "open_session", "timeout_ms": int(self.timeout * 1000)})
        self.session_id = int(answer["ok"])

    def stop(self) -> None:
        if self.session_id and not self.expired:
            self._write_raw({"op": "close_session"})
        self.session_id = 0

    def freeze(self) -> None:
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False

    def _heartbeat(self) -> None:
        """Called by the loop every tick: ping every third of the timeout."""
        world = self.world
        if not self.session_id or self.frozen or self.expired or world.now < self._next_ping:
            return
        self._next_ping = world.now + max(1, self._ticks // 3)
        if not world.serving(self.server):
            self._move_on()
            return
        server = world.servers[self.server]
        state = server.session_state(self.session_id)
        if state == "expired":
            self.expired = True
            return
        server.heard(self.session_id)
        self._notes(server.take_notifications(self.session_id))

    def _move_on(self) -> None:
        names = self.world.node_ids
        self.server = names[(names.index(self.server) + 1) % len(names)]
        if self.world.serving(self.server):
            server = self.world.servers[self.server]
            if server.tree.zxid >= self.last_zxid:
                watches = [[kind, path, self.last_zxid, True] for kind, path in self._watches]
                server.attach(self.session_id, watches)

    def _notes(self, notes: list[dict[str, Any]]) -> None:
        for note in notes:
            for kind in _FIRES.get(note["type"], ()):
                for callback in self._watches.pop((kind, note["path"]), []):
                    self.notifications += 1
                    callback(
                        WatchedEvent(
                            getattr(EventType, note["type"]), KeeperState.CONNECTED, note["path"]
                        )
                    )

    def _pause_point(self) -> None:
        if self.frozen:
            self._clients.wait_until(lambda: not self.frozen, 10**9)
        if self.expired:
            raise kazoo_errors.SessionExpiredError(f"session {self.session_id} has expired")

    # ----- writes and reads ------------------------------------------------------------

    def _write_raw(self, command: dict[str, Any]) -> dict[str, Any]:
        self._pause_point()
        command = {**command, "session": self.session_id, "seq": next(self._seq)}
        world = self.world
        deadline = world.now + 2 * self._ticks
        maybe = False
        while world.now < deadline:
            if not world.serving(self.server):
                self._move_on()
                self._clients.wait_until(lambda: False, 2)
                continue
            server_name = self.server
            proposed = world.forward(server_name, command)
            if proposed is None:
                self._clients.wait_until(lambda: False, 3)
                continue
            answers = world.answers[self._acknowledging(server_name)]
            index = proposed.index

            def answered(
                index: int = index, answers: dict = answers, name: str = server_name
            ) -> bool:
                return index in answers or not world.serving(name)

            done = self._clients.wait_until(answered, self._ticks // 2)
            if done and index in answers:
                term, answer = answers[index]
                if term == proposed.term:
                    self._notes(world.servers[server_name].take_notifications(self.session_id))
                    self.last_zxid = max(self.last_zxid, answer["zxid"])
                    if "error" in answer:
                        if answer["error"] == "SessionExpiredError":
                            self.expired = True
                        raise getattr(kazoo_errors, answer["error"])(answer["message"])
                    return answer
                continue  # another entry took the index: ours never commits; try again
            maybe = True
        if maybe:
            raise kazoo_errors.ConnectionLoss(f"{command['op']}: no answer in time")
        raise kazoo_errors.OperationTimeoutError(f"{command['op']}: not applied")

    def _read(self, op: str, path: str, watch: Callable[..., Any] | None) -> Any:
        self._pause_point()
        world = self.world
        handle = self._record_read(op, path)
        deadline = world.now + 2 * self._ticks
        while True:
            if world.serving(self.server):
                server_name = self.server
                floor = self._read_floor()

                def caught_up_with(name: str = server_name, floor: int = floor) -> bool:
                    return not world.serving(name) or world.servers[name].tree.zxid >= floor

                caught_up = self._clients.wait_until(caught_up_with, self._ticks // 2)
                if caught_up and world.serving(server_name):
                    break
            if world.now >= deadline:
                if handle is not None:
                    self.history.complete(handle, "fail")  # type: ignore[union-attr]
                raise kazoo_errors.ConnectionLoss(f"{op}({path}): no server answered")
            self._move_on()
        server = world.servers[self.server]
        server.heard(self.session_id)
        answer = server.read(self.session_id, op, path, watch is not None)
        self._notes(server.take_notifications(self.session_id))
        self.last_zxid = max(self.last_zxid, answer["zxid"])
        if "error" in answer:
            if handle is not None:
                output_zxid = answer["zxid"] if answer["error"] == "NoNodeError" else None
                status = "ok" if output_zxid is not None else "fail"
                self.history.complete(handle, status, output=None, zxid=output_zxid)  # type: ignore[union-attr]
            raise getattr(kazoo_errors, answer["error"])(answer["message"])
        value = answer["ok"]
        if watch is not None:
            kind = "child" if op == "get_children" else "data"
            self._watches.setdefault((kind, path), []).append(watch)
        if handle is not None:
            self.history.complete(  # type: ignore[union-attr]
                handle, "ok", output=bytes(value[0]).decode("utf-8", "replace"), zxid=answer["zxid"]
            )
        return value

    def _acknowledging(self, server_name: NodeId) -> NodeId:
        """Whose copy must have applied a write before it is acknowledged: our own server's
        (so our next read there sees it)."""
        return server_name

    def _read_floor(self) -> int:
        """The oldest state a read may be answered from: the newest this client has seen."""
        return self.last_zxid

    def __repr__(self) -> str:
        return f"<SimCoordClient {self.name} session {self.session_id} -> {self.server}>"


class ForgetsClientOrder(SimCoordClient):
    """A *mutant* client session: writes are acknowledged once the leader applied them and
    reads are answered by whatever its server holds -- FIFO client order is lost, and
    `distlab.check.check_coordination` must say so."""

    def _acknowledging(self, server_name: NodeId) -> NodeId:
        node = self.world.nodes[server_name]
        leader = node.leader_id if node is not None else None
        return leader if leader is not None and self.world.serving(leader) else server_name

    def _read_floor(self) -> int:
        return 0
