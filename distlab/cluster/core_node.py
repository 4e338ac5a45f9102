"""CoreNode: any protocol core in a real node process -- the real-time twin of `distlab.sim.World`.

What it is: a `NodeProgram` that drives one core of the contract in `distlab.core` (``tick``,
``receive``, ``has_ready``, ``take_ready``) with real time and real sockets:

- a ticker thread calls ``tick()`` every ``tick_ms`` milliseconds;
- peers' messages arrive as the ``Core.step(sender, message)`` RPC, decoded by the system's
  `MessageCodec` (bad bytes are a clear error for the sender; the node keeps serving);
- client requests reach the core through `run(operation)`;
- after every input, each `Ready` is handled in the contract's order: **persist** (your
  `persist`, which must make it durable -- fsync -- before returning), **send** (each
  envelope queued for its peer; lost messages are the protocol's problem, as on any
  network), **outputs** (your `output`).
- each peer has a `PeerSender` (`distlab.cluster.peer_sender`, the one Raft uses too): the
  messages for it leave as batches, ``Core.step_many(sender, [message, ...])``, sent by the
  thread that ran the core while the peer keeps up, else by the peer's own sender thread.
  A stalled peer (its kernel accepts a connection, nobody answers the handshake; or it
  stopped reading) must block neither the caller nor the messages to the other peers: the
  RPC client connects on its own connector thread, and a send that may block goes from the
  peer's sender thread. Aurora's writer counts on this: a commit goes to six storage nodes
  and waits for four, so a stalled fifth or sixth must not hold up the others' copies. A
  failed call drops the backlog behind it (lost messages, again).
  ``Core.step(sender, message)`` takes one message, for tests and tools that send by hand.

A system subclasses it and says only what is its own: `codec`, `boot` (rebuild the core from
``self.ctx.data_dir``), `persist`, `output`, `status` (and, if its core knows several
processes by one name, `core_sender` and `destinations`). docs/ADDING_A_SYSTEM.md shows one.
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
from typing import Any, ClassVar, TypeVar

from distlab.cluster.peer_sender import PeerSender
from distlab.cluster.program import NodeContext, NodeProgram
from distlab.core import Core, MessageCodec, Ready

__all__ = ["Answers", "CoreNode", "decode_steps"]

_T = TypeVar("_T")


class CoreNode(NodeProgram):
    """Runs a core in a node process; see the module docstring. Subclass it."""

    #: The system's messages (and nothing else) cross the network through this codec.
    codec: ClassVar[MessageCodec]
    #: How often the core ticks, in milliseconds of real time.
    tick_ms: ClassVar[float] = 50.0
    #: How long one ``Core.step_many`` to a peer may take, in seconds (nobody waits for it).
    step_timeout_s: ClassVar[float] = 1.0
    #: Messages a peer's queue holds while the peer lags (or is being connected to);
    #: beyond, the oldest go.
    outbox_limit: ClassVar[int] = 1000

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__(ctx)
        self.lock = threading.Lock()  # guards the core; never held while sending
        self.core: Core = self.boot()
        self.steps_refused = 0
        self._stop = threading.Event()
        self._senders: dict[str, PeerSender] = {}
        self._senders_lock = threading.Lock()
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

    def destinations(self, dst: str) -> list[str]:
        """The peers a message the core addresses to ``dst`` goes to: ``dst`` itself,
        unless a system groups several processes as one (the other half of `core_sender`)."""
        return [dst]

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
        # 2. send, outside the lock: queued per peer in order, then each peer's messages
        #    leave as one batch (from this thread while that peer keeps up)
        to_flush: dict[str, PeerSender] = {}
        for ready in readies:
            for envelope in ready.messages:
                for peer in self.destinations(envelope.dst):
                    sender = self._senders.get(peer) or self._sender(peer)
                    if sender is not None:
                        sender.put([envelope.message], send=False)
                        to_flush[peer] = sender
        for sender in to_flush.values():
            sender.flush()
        for ready in readies:  # 3. outputs
            for item in ready.outputs:
                self.output(item)
        return result

    def _sender(self, peer: str) -> PeerSender | None:
        """Peer ``peer``'s sender, made at its first message; None for a name that is no
        peer (the message is lost, as the protocol must expect)."""
        if peer not in self.ctx.peers:
            self.ctx.log.debug("message to %s not sent: not a peer of %s", peer, self.ctx.name)
            return None
        with self._senders_lock:
            sender = self._senders.get(peer)
            if sender is None and not self._stop.is_set():
                sender = self._senders[peer] = PeerSender(
                    self.ctx,
                    peer,
                    "Core.step_many",
                    encode=self.codec.encode,
                    rpc_timeout=self.step_timeout_s,
                    max_queued=self.outbox_limit,
                    thread_name=f"core-send-{peer}",
                )
            return sender

    def outbox_statistics(self) -> dict[str, int]:
        """Messages the peers' sender threads carried because their peer lagged or was
        being connected to, and messages lost (dropped, or in a call that failed)."""
        with self._senders_lock:
            stats = [sender.statistics() for sender in self._senders.values()]
        return {
            "sends_deferred": sum(s.messages_deferred for s in stats),
            "sends_lost": sum(s.messages_dropped + s.messages_in_failed_calls for s in stats),
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
        with self._senders_lock:
            senders = list(self._senders.values())
        for sender in senders:  # a thread blocked on a stalled peer is waited for briefly
            sender.close()


def decode_steps(
    codec: MessageCodec, messages: Any, accepted: tuple[type, ...], expected: str
) -> list[Any]:
    """The messages of a ``Core.step_many`` batch, every one decoded and checked to be of an
    ``accepted`` type before the caller lets any reach a core; ValueError (``expected``,
    and which message) for a batch that is not a list or holds anything else."""
    if type(messages) is not list:
        raise ValueError(f"Core.step_many expects a list, got {type(messages).__name__}")
    decoded = [codec.decode(message) for message in messages]
    for position, message in enumerate(decoded):
        if type(message) not in accepted:
            raise ValueError(
                f"{expected}, got {type(message).__name__}"
                + (f" (message {position} of the batch)" if len(decoded) > 1 else "")
            )
    return decoded


class _CoreRPC:
    """``Core.step``: a message from a peer (internal to the cluster)."""

    def __init__(self, node: CoreNode) -> None:
        self._node = node

    def step(self, sender: str, message: Any) -> None:
        """Deliver one encoded message from peer ``sender`` to the core."""
        self.step_many(sender, [message])

    def step_many(self, sender: str, messages: Any) -> None:
        """Deliver a batch of encoded messages from peer ``sender``, in order. Every one is
        decoded and checked before any reaches the core: a bad batch changes nothing."""
        node = self._node
        if sender not in node.ctx.peers:
            node.steps_refused += 1
            raise ValueError(f"Core.step from {sender!r}, which is not a peer of {node.ctx.name}")
        try:
            decoded = decode_steps(
                node.codec, messages, node.codec.types, "Core.step expects a message"
            )
        except ValueError:
            node.steps_refused += 1
            raise
        source = node.core_sender(sender)

        def receive_all(core: Core) -> None:
            for message in decoded:
                core.receive(source, message)

        node.run(receive_all)


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
