"""CoreNode's sending (through a PeerSender per peer), with stand-in peers and no processes:
a peer that is slow to connect holds up neither the caller nor the messages to the other
peers (its own go later, in order, or are lost when it cannot be reached)."""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from distlab.cluster.core_node import CoreNode
from distlab.cluster.program import NodeContext
from distlab.core import Envelope, MessageCodec, Ready
from distlab.rpc import ConnectionLost

DEADLINE_S = 30.0  # generous: nothing here should take more than milliseconds


@dataclass(frozen=True)
class Note:
    text: str


CODEC = MessageCodec([Note])


class BroadcastCore:
    """Sends ``Note(text)`` to every peer, in the order given, for each ``say(text)``."""

    def __init__(self, peers: list[str]) -> None:
        self.peers = peers
        self._messages: list[Envelope] = []

    def say(self, text: str) -> None:
        self._messages += [Envelope("me", peer, Note(text)) for peer in self.peers]

    def tick(self) -> None:
        pass

    def receive(self, sender: str, message: Any) -> None:
        pass

    def has_ready(self) -> bool:
        return bool(self._messages)

    def take_ready(self) -> Ready:
        ready, self._messages = Ready(messages=self._messages), []
        return ready


class StandInPeer:
    """What ``ctx.client(peer)`` returns: records each message delivered. A stalled one is
    not connected, and connecting to it blocks until ``released`` (like a peer stopped with
    SIGSTOP: the kernel accepts the connection, nobody answers the handshake); it fails
    instead when ``reachable`` is False."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.connected = not stalled
        self.released = threading.Event()
        self.reachable = True
        self.delivered: list[str] = []
        self.connect_attempts = 0

    def call_async(self, method: str, sender: str, batch: list[Any], timeout: float) -> Future:
        assert method == "Core.step_many"
        future: Future = Future()
        if not self.connected:
            self.connect_attempts += 1
            self.released.wait(DEADLINE_S)
            if not self.reachable:  # the call fails: its messages are lost
                future.set_exception(ConnectionLost("cannot connect", definite=True))
                return future
            self.connected = True
        self.delivered.extend(CODEC.decode(encoded).text for encoded in batch)
        future.set_result(None)
        return future


class StandInContext(NodeContext):
    def __init__(self, peers: dict[str, StandInPeer], tmp_path: Any) -> None:
        super().__init__(
            name="me",
            address=("127.0.0.1", 1),
            peers={name: ("127.0.0.1", 2 + i) for i, name in enumerate(peers)},
            data_dir=tmp_path,
            log=logging.getLogger("test-core-node"),
        )
        self.stand_ins = peers

    def client(self, peer: str) -> Any:
        return self.stand_ins[peer]


class Broadcaster(CoreNode):
    codec = CODEC
    tick_ms = 10_000.0  # no ticks during a test

    def boot(self) -> BroadcastCore:  # type: ignore[override]
        return BroadcastCore(list(self.ctx.peers))


def wait_until(condition: Any) -> bool:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def start(tmp_path: Any, **peers: StandInPeer) -> Broadcaster:
    return Broadcaster(StandInContext(peers, tmp_path))


def test_a_peer_that_is_slow_to_connect_holds_up_neither_the_caller_nor_the_others(
    tmp_path: Any,
) -> None:
    stalled, fast = StandInPeer(stalled=True), [StandInPeer() for _ in range(3)]
    node = start(tmp_path, a=stalled, b=fast[0], c=fast[1], d=fast[2])  # the stalled one first
    try:
        caller = threading.Thread(target=lambda: node.run(lambda core: core.say("x")))
        caller.start()
        caller.join(DEADLINE_S)
        assert not caller.is_alive(), "run() waited for a peer's connection"
        assert wait_until(lambda: all(peer.delivered == ["x"] for peer in fast))
        assert wait_until(lambda: stalled.connect_attempts == 1) and stalled.delivered == []
        for text in ("y", "z"):  # more while it still connects: they queue behind "x"
            node.run(lambda core, t=text: core.say(t))  # type: ignore[misc]
        assert wait_until(lambda: all(peer.delivered == ["x", "y", "z"] for peer in fast))
        stalled.released.set()
        assert wait_until(lambda: stalled.delivered == ["x", "y", "z"]), "in order, none lost"
        assert node.outbox_statistics() == {"sends_deferred": 3, "sends_lost": 0}
        node.run(lambda core: core.say("w"))
        assert wait_until(lambda: stalled.delivered == ["x", "y", "z", "w"])
    finally:
        stalled.released.set()
        node.close()


def test_an_unreachable_peer_loses_its_backlog_and_is_tried_again_later(tmp_path: Any) -> None:
    lost = StandInPeer(stalled=True)
    node = start(tmp_path, a=lost, b=StandInPeer())
    try:
        lost.reachable = False
        for text in ("x", "y", "z"):
            node.run(lambda core, t=text: core.say(t))  # type: ignore[misc]
        lost.released.set()  # the connection attempt fails: x and what waits behind it go
        assert wait_until(lambda: node.outbox_statistics()["sends_lost"] == 3)
        assert lost.delivered == []
        lost.reachable = True
        node.run(lambda core: core.say("v"))  # the next message tries again, and gets there
        assert wait_until(lambda: lost.delivered == ["v"])
    finally:
        node.close()


def test_a_full_outbox_drops_its_oldest_messages(tmp_path: Any) -> None:
    stalled = StandInPeer(stalled=True)

    class Small(Broadcaster):
        outbox_limit = 2

    node = Small(StandInContext({"a": stalled}, tmp_path))
    try:
        node.run(lambda core: core.say("first"))  # taken by the sender: it is connecting
        assert wait_until(lambda: stalled.connect_attempts == 1)
        for text in ("1", "2", "3"):
            node.run(lambda core, t=text: core.say(t))  # type: ignore[misc]
        stalled.released.set()
        assert wait_until(lambda: stalled.delivered == ["first", "2", "3"])
        assert node.outbox_statistics() == {"sends_deferred": 3, "sends_lost": 1}
    finally:
        node.close()
