"""CoreNode: any protocol core in a real node process -- the real-time twin of `distlab.sim.World`.

What it is: a `NodeProgram` that drives one core of the contract in `distlab.core` (``tick``,
``receive``, ``has_ready``, ``take_ready``) with real time and real sockets:

- a ticker thread calls ``tick()`` every ``tick_ms`` milliseconds;
- peers' messages arrive as the ``Core.step(sender, message)`` RPC, decoded by the system's
  `MessageCodec` (bad bytes are a clear error for the sender; the node keeps serving);
- client requests reach the core through `run(operation)`;
- after every input, each `Ready` is handled in the contract's order: **persist** (your
  `persist`, which must make it durable -- fsync -- before returning), **send** (each
  envelope as an asynchronous ``Core.step`` to its peer; lost messages are the protocol's
  problem, as on any network), **outputs** (your `output`).
- a message to a peer with no open connection waits in that peer's **outbox**, which the
  peer's own sender thread drains in order: making a connection blocks (up to
  ``step_timeout_s`` when the peer is stalled), and it must block neither the caller nor the
  messages to the other peers. Aurora's writer counts on this: a commit goes to six storage
  nodes and waits for four, so a stalled fifth or sixth must not hold up the others' copies.
  A peer that cannot be reached loses its backlog (a lost message, again).

A system subclasses it and says only what is its own: `codec`, `boot` (rebuild the core from
``self.ctx.data_dir``), `persist`, `output`, `status` (and, if its core knows several
processes by one name, `core_sender`). docs/ADDING_A_SYSTEM.md shows one.
What it must never do: send before persisting, hold the core's lock while it sends, let one
peer's connection hold up the messages to another, or know any protocol. Where it fits: in
`distlab.cluster` beside `NodeProgram`; systems with their own performance needs (Raft's
`RaftPeer`: group commit, replies in the RPC's answer) drive their cores themselves.
`Answers` is where a client RPC waits for the output that answers its request (chain,
Aurora).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any, ClassVar, TypeVar

from distlab.cluster.program import NodeContext, NodeProgram
from distlab.core import Core, MessageCodec, Ready

__all__ = ["Answers", "CoreNode"]

_T = TypeVar("_T")


class CoreNode(NodeProgram):
    """Runs a core in a node process; see the module docstring. Subclass it."""

    #: The system's messages (and nothing else) cross the network through this codec.
    codec: ClassVar[MessageCodec]
    #: How often the core ticks, in milliseconds of real time.
    tick_ms: ClassVar[float] = 50.0
    #: How long one ``Core.step`` to a peer may take, in seconds (nobody waits for it).
    step_timeout_s: ClassVar[float] = 1.0
    #: Messages an outbox holds for a peer it is still connecting to; beyond, the oldest go.
    outbox_limit: ClassVar[int] = 1000

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.lock = threading.Lock()  # guards the core; never held while sending
        self.core: Core = self.boot()
        self.steps_refused = 0
        self._stop = threading.Event()
        self._outboxes: dict[str, _Outbox] = {}
        self._outboxes_lock = threading.Lock()
        self._ticker = threading.Thread(target=self._tick_loop, name="core-ticker", daemon=True)
        self._ticker.start()

    # -- what a system writes -------------------------------------------------------------

    def boot(self) -> Core:
        """The core, rebuilt from what it persisted under ``self.ctx.data_dir``."""
        raise NotImplementedError(f"{type(self).__name__} must say how its core boots")

    def persist(self, ready: Ready) -> None:
        """Make the Ready's durable part durable (fsync) before anything is sent."""

    def output(self, item: Any) -> None:
        """One of ``ready.outputs``, in order (after the messages were handed to the network)."""

    def core_sender(self, peer: str) -> str:
        """The name the core knows peer ``peer`` by: the peer's own name, unless a system
        groups several processes as one (chain's replicated managers reach its core as one
        manager)."""
        return peer

    # -- the driver -----------------------------------------------------------------------

    def run(self, operation: Any) -> Any:
        """Apply one input to the core (``operation(core)``), then drive what it produced;
        returns what ``operation`` returned. Clients' RPCs call this."""
        with self.lock:
            result = operation(self.core)
            readies: list[Ready] = []
            while self.core.has_ready():
                ready = self.core.take_ready()
                self.persist(ready)  # 1. persist, still under the lock: in order
                readies.append(ready)
        for ready in readies:
            for envelope in ready.messages:  # 2. send, outside the lock
                self._send(envelope.dst, envelope.message)
            for item in ready.outputs:  # 3. outputs
                self.output(item)
        return result

    def _send(self, peer: str, message: Any) -> None:
        try:
            encoded = self.codec.encode(message)
            client = self.ctx.client(peer)
        except Exception as error:  # an unknown peer: the message is lost
            self.ctx.log.debug("message to %s not sent: %r", peer, error)
            return
        outbox = self._outboxes.get(peer)
        if client.connected and (outbox is None or not outbox.busy()):
            self._step(peer, client, encoded)  # the usual case: it only writes to a socket
        else:
            self._outbox(peer).put(encoded)

    def _step(self, peer: str, client: Any, encoded: bytes) -> None:
        try:
            client.call_async("Core.step", self.ctx.name, encoded, timeout=self.step_timeout_s)
        except Exception as error:  # an unreachable peer: the protocol copes with loss
            self.ctx.log.debug("message to %s not sent: %r", peer, error)

    def _outbox(self, peer: str) -> _Outbox:
        with self._outboxes_lock:
            outbox = self._outboxes.get(peer)
            if outbox is None:
                outbox = self._outboxes[peer] = _Outbox(self.outbox_limit)
                outbox.thread = threading.Thread(
                    target=self._drain, args=(peer, outbox), name=f"core-send-{peer}", daemon=True
                )
                outbox.thread.start()
            return outbox

    def _drain(self, peer: str, outbox: _Outbox) -> None:
        """A peer's sender thread: connect and send what waits, in order."""
        while (encoded := outbox.take(self._stop)) is not None:
            try:
                client = self.ctx.client(peer)
                self._step(peer, client, encoded)  # connects first: may block
                if not client.connected:  # unreachable now: what waits would only go stale
                    outbox.lose_backlog(also_this_one=True)
            finally:
                outbox.sent()

    def outbox_statistics(self) -> dict[str, int]:
        """Messages that waited in a peer's outbox (no connection yet), and those it lost."""
        with self._outboxes_lock:
            outboxes = list(self._outboxes.values())
        return {
            "sends_deferred": sum(o.deferred for o in outboxes),
            "sends_lost": sum(o.lost for o in outboxes),
        }

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_ms / 1000.0):
            self.run(lambda core: core.tick())

    # -- NodeProgram ----------------------------------------------------------------------

    def services(self) -> dict[str, object]:
        return {"Core": _CoreRPC(self)}

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)
        with self._outboxes_lock:
            outboxes = list(self._outboxes.values())
        for outbox in outboxes:
            outbox.wake()
        for outbox in outboxes:  # one may be connecting: that ends within step_timeout_s
            if outbox.thread is not None:
                outbox.thread.join(timeout=self.step_timeout_s + 1.0)


class _Outbox:
    """The messages waiting for one peer's connection, oldest first (see the module
    docstring). ``busy`` while any is queued or being sent, so later ones queue behind."""

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._queue: deque[bytes] = deque()
        self._limit = limit
        self._sending = False
        self.thread: threading.Thread | None = None
        self.deferred = 0
        self.lost = 0

    def busy(self) -> bool:
        return bool(self._queue) or self._sending

    def put(self, encoded: bytes) -> None:
        with self._cond:
            if len(self._queue) >= self._limit:
                self._queue.popleft()
                self.lost += 1
            self._queue.append(encoded)
            self.deferred += 1
            self._cond.notify()

    def take(self, stop: threading.Event) -> bytes | None:
        """The oldest message (marked as being sent), or None once ``stop`` is set."""
        with self._cond:
            while not self._queue and not stop.is_set():
                self._cond.wait()
            if stop.is_set():
                return None
            self._sending = True
            return self._queue.popleft()

    def sent(self) -> None:
        with self._cond:
            self._sending = False

    def lose_backlog(self, *, also_this_one: bool) -> None:
        with self._cond:
            self.lost += len(self._queue) + also_this_one
            self._queue.clear()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


class _CoreRPC:
    """``Core.step``: a message from a peer (internal to the cluster)."""

    def __init__(self, node: CoreNode) -> None:
        self._node = node

    def step(self, sender: str, message: Any) -> None:
        """Deliver one encoded message from peer ``sender`` to the core."""
        node = self._node
        if sender not in node.ctx.peers:
            node.steps_refused += 1
            raise ValueError(f"Core.step from {sender!r}, which is not a peer of {node.ctx.name}")
        decoded = node.codec.decode(message)
        if type(decoded) not in node.codec.types:
            node.steps_refused += 1
            raise ValueError(f"Core.step expects a message, got {type(decoded).__name__}")
        source = node.core_sender(sender)
        node.run(lambda core: core.receive(source, decoded))


class Answers:
    """The answers a core gives in its outputs, by request id, for the client RPCs that
    wait on them: `new_op` names a request, ``output`` calls `deliver`, the RPC `wait`s."""

    def __init__(self, node_name: str) -> None:
        self._node_name = node_name
        self._ops = itertools.count(1)
        self._answers: dict[str, Any] = {}
        self._arrived = threading.Condition()

    def new_op(self) -> str:
        """A request id no other request to this node has had."""
        return f"{self._node_name}:{next(self._ops)}"

    def deliver(self, op: str, answer: Any) -> None:
        """The core answered request ``op``."""
        with self._arrived:
            self._answers[op] = answer
            self._arrived.notify_all()

    def wait(self, op: str, timeout_s: float) -> Any | None:
        """The answer to ``op`` (taken), or None if none came within ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        with self._arrived:
            while op not in self._answers:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._arrived.wait(left)
            return self._answers.pop(op)
