"""A peer that stops reading cannot pin a sender: a send that makes no progress for
``send_stall_s`` fails, and the connection is dropped (its calls end as "may have run").

Loopback socket buffers hold a few MiB, so the frames here are larger than any of them can:
the sender is certain to stall once the reader stops. No test reads a clock.
"""

from __future__ import annotations

import threading

import pytest

from distlab.rpc import Client, ConnectionLost, Server
from tests.rpc.helpers import (
    Echo,
    HandMadeServer,
    is_closed_by_peer,
    raw_connect,
    send,
    wait_until,
)

STALL_S = 0.2
BIG = 48 * 1024 * 1024  # more than the kernel buffers of both ends together
LONG_S = 120.0  # a call timeout no test waits out


def test_a_call_to_a_peer_that_stopped_reading_fails_as_may_have_run() -> None:
    outcome: list[BaseException | object] = []
    with HandMadeServer() as server:
        client = Client(server.address, send_stall_s=STALL_S, max_frame_bytes=2 * BIG)
        try:

            def call() -> None:
                try:
                    outcome.append(client.call("Echo.echo", b"x" * BIG, timeout=LONG_S))
                except BaseException as error:  # the test inspects it
                    outcome.append(error)

            caller = threading.Thread(target=call)
            caller.start()
            server.accept().answer_handshake()  # ... and then never reads a byte
            caller.join(60.0)
            assert not caller.is_alive(), "the send stayed blocked on a peer that never reads"
        finally:
            client.close()
    (error,) = outcome
    assert isinstance(error, ConnectionLost), error
    assert not error.definite  # part of the request went out: it may have run


def test_a_server_drops_a_client_that_never_reads_its_replies_and_keeps_serving() -> None:
    server = Server(name="s", send_stall_s=STALL_S, max_frame_bytes=2 * BIG).start()
    server.register(Echo())
    try:
        greedy = raw_connect(server.address, name="greedy")
        try:
            # One request whose reply is larger than the buffers; its replies are never read
            # (reading them now would unblock the server: watch its statistics instead).
            send(greedy, [0, 1, 0, "Echo.echo", [b"x" * BIG]])
            assert wait_until(lambda: server.statistics().calls == 1, timeout=60.0)
            assert wait_until(lambda: server.statistics().connections_open == 0, timeout=60.0)
            assert is_closed_by_peer(greedy, timeout=60.0)  # closed, after what it had sent
        finally:
            greedy.close()
        with Client(server.address, name="polite") as polite:
            assert polite.call("Echo.echo", "still here", timeout=10.0) == "still here"
    finally:
        server.close()


@pytest.mark.parametrize("stall", [0, -1.0])
def test_a_send_stall_bound_must_be_positive(stall: float) -> None:
    with pytest.raises(ValueError, match="send_stall_s"):
        Client(("127.0.0.1", 1), send_stall_s=stall)
    with pytest.raises(ValueError, match="send_stall_s"):
        Server(send_stall_s=stall)
