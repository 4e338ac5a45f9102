"""Numbers off the wire are checked against their documented ranges (docs/WIRE_FORMAT.md §3).

Issue 16 §1: one REQUEST whose Lamport timestamp was 2**64-1 pushed the server's clock to
2**64; every reply after that failed to pack (msgpack carries at most 64 bits), the reader
thread died, and the server answered nobody. The same frame from a hostile *server* did
the same to a client's clock. These tests send such frames and check that the peer gets a
clear error while the other side keeps serving.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distlab.rpc import (
    Client,
    ConnectionLost,
    LamportClock,
    RpcError,
    RpcTimeout,
    Server,
    codec,
)
from distlab.rpc.framing import FrameDecoder
from tests.rpc.helpers import Echo, raw_connect, read_frames, send

U64_MAX = 2**64 - 1


@pytest.fixture(scope="module")
def server():
    # Module-scoped on purpose: every example below hits the same server, which must
    # survive them all.
    server = Server(name="target", frame_timeout=2.0, handshake_timeout=2.0).start()
    server.register(Echo())
    try:
        yield server
    finally:
        server.close()


def still_answers(server: Server) -> bool:
    with Client(server.address, name="probe") as client:
        return client.call("Echo.add", 20, 22, timeout=20) == 42


class Replies:
    """Reads replies from a raw socket, keeping frames that arrived in the same chunk."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()
        self.queued: list[bytes] = []
        sock.settimeout(20)  # generous: a server that never answers fails the test

    def to(self, request_id: int) -> list:
        """The reply for ``request_id`` (replies to other ids are skipped)."""
        while True:
            if not self.queued:
                self.queued = read_frames(self.sock, self.decoder, 1)
            reply = codec.unpack(self.queued.pop(0))
            if reply[1] == request_id:
                return reply


@pytest.mark.parametrize(
    ("frame", "complaint"),
    [
        ([codec.REQUEST, 1, U64_MAX, "Echo.echo", ["x"]], "lamport"),
        ([codec.REQUEST, 1, 2**63, "Echo.echo", ["x"]], "lamport"),
        ([codec.REQUEST, 1, 0, "Echo.echo", ["x"], ["c", U64_MAX, 0]], "seq"),
        ([codec.REQUEST, 1, 0, "Echo.echo", ["x"], ["c", 5, U64_MAX]], "ack"),
        ([codec.REQUEST, 1, 0, "Echo.echo", ["x"], ["c", 0, 0]], "seq"),
        ([codec.REQUEST, 1, 0, "Echo.echo", ["x"], ["c", 3, 3]], "ack"),
        ([codec.REQUEST, 1, 0, "Echo.echo", ["x"], ["c" * 10_000, 1, 0]], "client_id"),
        ([codec.REQUEST, 1, 0, "E" * 10_000, ["x"]], "method"),
    ],
)
def test_out_of_range_numbers_get_an_error_reply_and_the_server_keeps_serving(
    server, frame, complaint
):
    with raw_connect(server.address) as sock:
        replies = Replies(sock)
        send(sock, frame)
        reply = replies.to(1)
        assert reply[3] is False
        kind, _, message, _ = reply[4]
        assert kind == "bad_request" and complaint in message
        # The same connection still works, and so does every other client.
        send(sock, [codec.REQUEST, 2, 0, "Echo.add", [1, 2]])
        assert replies.to(2)[4] == 3
    assert still_answers(server)


def test_the_lamport_clock_is_not_poisoned_by_a_maximal_timestamp(server):
    before = server.clock.time
    with raw_connect(server.address) as sock:
        send(sock, [codec.REQUEST, 1, U64_MAX, "Echo.echo", ["x"]])
        Replies(sock).to(1)
    assert server.clock.time < 2**63
    assert server.clock.time >= before


def test_the_clock_saturates_instead_of_leaving_the_wire_range():
    clock = LamportClock()
    assert clock.observe(codec.MAX_LAMPORT) == codec.MAX_LAMPORT
    assert clock.tick() == codec.MAX_LAMPORT
    with pytest.raises(ValueError, match="outside"):
        clock.observe(codec.MAX_LAMPORT + 1)
    assert clock.time == codec.MAX_LAMPORT


@pytest.mark.parametrize("bad", [True, -1, 2**63, 1.0, "1", None])
def test_parse_request_names_the_field_and_its_range(bad):
    with pytest.raises(
        codec.BadMessage, match=r"lamport must be an integer in 0\.\.9223372036854775807"
    ):
        codec.parse_request([codec.REQUEST, 1, bad, "Echo.echo", []])


def test_the_largest_documented_values_are_accepted(server):
    with raw_connect(server.address) as sock:
        replies = Replies(sock)
        send(sock, [codec.REQUEST, U64_MAX, codec.MAX_LAMPORT, "Echo.echo", ["edge"]])
        reply = replies.to(U64_MAX)
        assert reply[3] is True and reply[4] == "edge"
        assert reply[2] <= U64_MAX
    assert still_answers(server)


# -- fuzzing the server with request-shaped frames after a valid handshake ---------------
# Structured fuzzing: start from a valid REQUEST and break one or two of its fields (a
# boundary integer, or garbage), or cut or extend it. A purely random value is almost
# never a REQUEST, so it would stop at the first shape check and never reach the range
# checks behind it (that is how the 2**64-1 timestamp slipped through an earlier fuzz).
BOUNDARY_INTEGERS = st.sampled_from([2**64 - 1, 2**63, 2**63 - 1, -1, -(2**63), 0])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), U64_MAX)
    | st.floats()
    | st.text(max_size=12)
    | st.binary(max_size=12)
)
GARBAGE = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=12,
)
# Methods that return at once (never Fault.set/reset: they would change the policy).
METHODS = st.sampled_from(["Echo.echo", "Echo.add", "Echo.fail", "Echo.nope", "Fault.get", ""])


def wire_integer(low: int, high: int) -> st.SearchStrategy:
    """An integer field: half the time a boundary value, in range or not."""
    return BOUNDARY_INTEGERS | st.integers(low, high)


@st.composite
def request_like(draw) -> list:
    valid = [
        codec.REQUEST,
        draw(wire_integer(0, U64_MAX)),
        draw(wire_integer(0, 2**63 - 1)),
        draw(METHODS),
        draw(st.lists(SCALARS, max_size=3)),
    ]
    if draw(st.booleans()):
        client_id = draw(st.text(min_size=1, max_size=6))
        valid.append([client_id, draw(wire_integer(1, 2**63 - 1)), draw(wire_integer(0, 9))])
    garbage_fields = draw(st.sampled_from([0, 0, 0, 1, 2]))
    for _ in range(garbage_fields):
        valid[draw(st.integers(0, len(valid) - 1))] = draw(GARBAGE)
    arity = draw(st.sampled_from([len(valid)] * 4 + [0, 1, 4, 7]))
    return [*valid, None, None][:arity]


FRAMES = st.lists(request_like() | GARBAGE, min_size=1, max_size=4)


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frames=FRAMES)
def test_fuzzed_frames_after_the_handshake_never_silence_the_server(server, frames):
    with raw_connect(server.address, name="fuzzer") as sock:
        replies = Replies(sock)
        for frame in frames:
            send(sock, frame)
        # Whatever came before, a good request on the same connection is answered ...
        probe_id = 2**62 + 7
        send(sock, [codec.REQUEST, probe_id, 0, "Echo.add", [40, 2]])
        assert replies.to(probe_id)[4] == 42
    # ... and so is a fresh client.
    assert still_answers(server)


# -- a hostile server: the client must not be poisoned either ------------------------------
class HostileServer:
    """Handshakes properly, then answers the first ``bad_replies`` requests with
    ``make_reply(request)`` and every later one correctly."""

    def __init__(self, make_reply, bad_replies: int = 1) -> None:
        self.make_reply = make_reply
        self.bad_left = bad_replies
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.address = self.listener.getsockname()[:2]
        self.threads: list[threading.Thread] = []
        self.sockets: list[socket.socket] = []
        self.accepter = threading.Thread(target=self._accept, daemon=True)
        self.accepter.start()

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        decoder = FrameDecoder()
        try:
            send(sock, [codec.WELCOME, 1, "hostile", None])
            read_frames(sock, decoder, 1)
            send(sock, [codec.READY, None])
            while True:
                request = codec.unpack(read_frames(sock, decoder, 1)[0])
                if self.bad_left > 0:
                    self.bad_left -= 1
                    send(sock, self.make_reply(request))
                else:
                    send(sock, [codec.REPLY, request[1], 1, True, request[4][0]])
        except (OSError, EOFError):
            return

    def close(self) -> None:
        # shutdown() before close(): close alone does not wake a thread blocked in accept/recv.
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        self.accepter.join(10)
        for thread in self.threads:
            thread.join(10)


@pytest.mark.parametrize(
    "make_reply",
    [
        lambda request: [codec.REPLY, request[1], U64_MAX, True, "poison"],
        lambda request: [codec.REPLY, request[1], 2**63, True, "poison"],
        lambda request: [codec.REPLY, request[1], -1, True, "poison"],
        lambda request: [codec.REPLY, 2**64 - 1, 0, True, "nobody's"],
        lambda request: [codec.REPLY, request[1], 0, False, ["x", "y"]],
        lambda request: {"not": "a reply"},
    ],
)
def test_a_hostile_reply_breaks_one_connection_not_the_client(make_reply):
    hostile = HostileServer(make_reply)
    try:
        with Client(hostile.address, name="victim") as client:
            # The bad reply breaks the connection (or, for an id nobody waits for, is
            # ignored until the call times out): an error, never a value.
            with pytest.raises((ConnectionLost, RpcTimeout)):
                client.call("Echo.echo", "first", timeout=0.5)
            # The client's clock stayed packable, so later calls still work.
            assert client.clock.time < 2**63
            assert client.call("Echo.echo", "second", timeout=20, retries=2) == "second"
    finally:
        hostile.close()


# Replies shaped like a REPLY to the request just sent, with fields broken as above.
@st.composite
def reply_like(draw, request_id: int) -> list:
    valid = [
        codec.REPLY,
        request_id,
        draw(wire_integer(0, 2**63 - 1)),
        draw(st.booleans()),
        draw(
            SCALARS
            | st.lists(st.text(max_size=5), min_size=4, max_size=4)
            | st.just(["remote", "ValueError", "boom", ""])
        ),
    ]
    for _ in range(draw(st.sampled_from([0, 0, 1, 2]))):
        valid[draw(st.integers(0, 4))] = draw(BOUNDARY_INTEGERS | GARBAGE)
    arity = draw(st.sampled_from([5, 5, 5, 5, 0, 4, 6]))
    return [*valid, None][:arity]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reply=reply_like(request_id=1))  # a new Client's first request has id 1
def test_fuzzed_replies_never_poison_the_client(reply):
    hostile = HostileServer(lambda request: reply)
    try:
        with Client(hostile.address, name="victim") as client:
            # Any RpcError (or even a value) is fine; a crash, a hang or a poisoned
            # clock is not.
            with contextlib.suppress(RpcError):
                client.call("Echo.echo", "first", timeout=0.3)
            assert client.clock.time <= codec.MAX_LAMPORT
            assert client.call("Echo.echo", "second", timeout=20, retries=2) == "second"
    finally:
        hostile.close()
