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

A system subclasses it and says only what is its own: `codec`, `boot` (rebuild the core from
``self.ctx.data_dir``), `persist`, `output`, `status` (and, if its core knows several
processes by one name, `core_sender`). docs/ADDING_A_SYSTEM.md shows one.
What it must never do: send before persisting, hold the core's lock while it sends, or know
any protocol. Where it fits: in `distlab.cluster` beside `NodeProgram`; systems with their
own performance needs (Raft's `RaftPeer`: group commit, replies in the RPC's answer) drive
their cores themselves. `Answers` is where a client RPC waits for the output that answers
its request (chain, Aurora).
"""

from __future__ import annotations

import itertools
import threading
import time
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

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.lock = threading.Lock()  # guards the core; never held while sending
        self.core: Core = self.boot()
        self.steps_refused = 0
        self._stop = threading.Event()
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
            client = self.ctx.client(peer)
            client.call_async(
                "Core.step", self.ctx.name, self.codec.encode(message), timeout=self.step_timeout_s
            )
        except Exception as error:  # an unreachable peer: the protocol copes with loss
            self.ctx.log.debug("message to %s not sent: %r", peer, error)

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.tick_ms / 1000.0):
            self.run(lambda core: core.tick())

    # -- NodeProgram ----------------------------------------------------------------------

    def services(self) -> dict[str, object]:
        return {"Core": _CoreRPC(self)}

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=5)


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
