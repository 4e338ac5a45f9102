"""Who may connect (HMAC challenge-response) and what hostile bytes cannot do."""

from __future__ import annotations

import logging
import os
import socket

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.rpc import AuthenticationError, Client, ConnectionLost, Server, codec
from distlab.rpc.framing import HEADER, VERSION, FrameDecoder
from tests.rpc.helpers import Echo, is_closed_by_peer, raw_connect, read_frames, send, wait_until


@pytest.fixture(scope="module")
def server():
    # Module-scoped so hypothesis examples all hit one server: it must survive them all.
    server = Server(name="target", frame_timeout=1.0, handshake_timeout=1.0).start()
    server.register(Echo())
    try:
        yield server
    finally:
        server.close()


def still_answers(server: Server) -> bool:
    with Client(server.address, name="probe") as client:
        return client.call("Echo.add", 20, 22, timeout=20) == 42


# -- authentication --------------------------------------------------------------------
def test_secret_required_off_loopback():
    with pytest.raises(ValueError, match="secret"):
        Server(host="0.0.0.0")
    Server(host="0.0.0.0", secret="s3cret")  # constructing is enough: it would bind


def test_shared_secret_on_loopback(caplog):
    caplog.set_level(logging.WARNING, logger="distlab.rpc")
    with Server(name="guarded", secret=b"right") as server:
        server.register(Echo())
        with Client(server.address, secret=b"right") as good:
            assert good.call("Echo.add", 1, 2, timeout=10) == 3
            for wrong in (b"wrong", None):
                with Client(server.address, name="intruder", secret=wrong) as bad:
                    with pytest.raises(AuthenticationError) as error:
                        bad.call("Echo.add", 1, 2, timeout=10)
                    assert error.value.definite
            # The server kept serving the authenticated client throughout.
            assert good.call("Echo.add", 2, 2, timeout=10) == 4
        # Both are refused by the server (a client without a secret cannot tell from the
        # challenge alone whether the server wants the shared secret or only a controller's).
        assert server.statistics().auth_failures == 2
    assert "authentication failed" in caplog.text and "intruder" in caplog.text


def test_raw_peer_with_a_forged_response_gets_no_service():
    with Server(name="guarded", secret="k") as server:
        server.register(Echo())
        sock = socket.create_connection(server.address, timeout=10)
        with sock:
            decoder = FrameDecoder()
            welcome = codec.unpack(read_frames(sock, decoder, 1)[0])
            assert isinstance(welcome[3], bytes) and len(welcome[3]) == 32
            send(sock, [codec.HELLO, "forger", b"\x00" * 32, None])
            assert codec.unpack(read_frames(sock, decoder, 1)[0])[0] == codec.DENIED
            send(sock, [codec.REQUEST, 1, 0, "Echo.add", [1, 1]])
            assert is_closed_by_peer(sock)
        assert server.statistics().auth_failures == 1
        with Client(server.address, secret="k") as good:
            assert good.call("Echo.add", 1, 1, timeout=10) == 2


def test_client_with_secret_refuses_an_unauthenticated_server(server):
    with Client(server.address, secret="s") as client, pytest.raises(AuthenticationError):
        client.call("Echo.add", 1, 1, timeout=10)


# -- bad input -------------------------------------------------------------------------
@settings(max_examples=40)
@given(garbage=st.binary(min_size=1, max_size=2000), handshake=st.booleans())
def test_random_bytes_never_break_the_server(server, garbage, handshake):
    with raw_connect(server.address, handshake=handshake) as sock:
        sock.sendall(garbage)
    assert still_answers(server)


@settings(max_examples=30)
@given(
    message=st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**63), 2**64 - 1)
        | st.text(max_size=20)
        | st.binary(max_size=20)
        | st.floats(allow_nan=False),
        lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=20,
    )
)
def test_wrong_shaped_frames_get_an_error_reply_and_the_connection_stays_usable(server, message):
    with raw_connect(server.address) as sock:
        send(sock, message)
        decoder = FrameDecoder()
        reply = codec.unpack(read_frames(sock, decoder, 1)[0])
        if reply[3] is not True:  # e.g. [0, 1, 0, "Echo.echo", [x]] is a valid request
            assert reply[0] == codec.REPLY and reply[4][0] in (
                "bad_request",
                "unknown_method",
                "bad_arguments",
                "remote",
            )
        send(sock, [codec.REQUEST, 99, 0, "Echo.add", [1, 2]])
        assert codec.unpack(read_frames(sock, decoder, 1)[0])[4] == 3


def test_oversized_length_prefix_closes_the_connection(server):
    with raw_connect(server.address) as sock:
        sock.sendall(HEADER.pack(2**32 - 1, VERSION) + b"x" * 100)
        assert is_closed_by_peer(sock)
    assert still_answers(server)


def test_truncated_frame_then_close(server):
    with raw_connect(server.address) as sock:
        payload = codec.pack([codec.REQUEST, 1, 0, "Echo.add", [1, 2]])
        sock.sendall((HEADER.pack(len(payload), VERSION) + payload)[:-3])
    assert still_answers(server)


def test_slow_loris_is_cut_off_and_does_not_block_others(server):
    before = server.statistics().slow_frames_closed
    with raw_connect(server.address) as sock:
        payload = codec.pack([codec.REQUEST, 1, 0, "Echo.add", [1, 2]])
        sock.sendall((HEADER.pack(len(payload), VERSION) + payload)[:6])
        assert still_answers(server)  # served while the half frame hangs
        assert is_closed_by_peer(sock)  # frame_timeout (1 s) ends it
    assert server.statistics().slow_frames_closed == before + 1


def test_idle_and_half_open_connections_do_not_block_others(server):
    idle = [raw_connect(server.address, handshake=False) for _ in range(5)]
    done = [raw_connect(server.address) for _ in range(5)]
    try:
        for sock in done:
            sock.shutdown(socket.SHUT_WR)  # half-closed by the peer
        assert still_answers(server)
        for sock in idle:  # never finish the handshake: closed after handshake_timeout
            assert is_closed_by_peer(sock)
    finally:
        for sock in idle + done:
            sock.close()
    assert wait_until(lambda: server.statistics().connections_open == 0)


def test_connection_limit_refuses_extra_peers_but_keeps_serving():
    with Server(name="small", max_connections=2) as server:
        server.register(Echo())
        with Client(server.address) as a, Client(server.address) as b:
            assert a.call("Echo.add", 1, 1, timeout=10) == 2
            assert b.call("Echo.add", 1, 1, timeout=10) == 2
            with Client(server.address, connect_timeout=2) as c, pytest.raises(ConnectionLost):
                c.call("Echo.add", 1, 1, timeout=2)
            assert a.call("Echo.add", 2, 2, timeout=10) == 4
        assert server.statistics().connections_refused >= 1


def test_many_random_connections_leave_memory_bounded(server):
    for _ in range(20):
        with raw_connect(server.address) as sock:
            sock.sendall(HEADER.pack(10_000_000, VERSION) + os.urandom(5000))
    assert still_answers(server)
    assert wait_until(lambda: server.statistics().connections_open == 0)
