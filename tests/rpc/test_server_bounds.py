"""What a peer can make a server hold is bounded (issue 16 §3): connections per peer, idle
connections, unfinished frames across connections, and the at-most-once table's bytes."""

from __future__ import annotations

import pytest

from distlab.rpc import Client, DuplicateTable, Server, codec
from distlab.rpc.framing import HEADER, VERSION, FrameDecoder
from tests.rpc.helpers import Echo, is_closed_by_peer, raw_connect, read_frames, wait_until


@pytest.fixture
def make_server():
    servers = []

    def make(**options) -> tuple[Server, Echo]:
        service = Echo()
        server = Server(name="bounded", **options).start()
        server.register(service)
        servers.append((server, service))
        return server, service

    yield make
    for server, service in servers:
        service.release.set()
        server.close()


def still_answers(server: Server) -> bool:
    with Client(server.address, name="probe") as client:
        return client.call("Echo.add", 20, 22, timeout=20) == 42


def test_connections_per_peer_are_limited_and_freed_on_close(make_server):
    server, _ = make_server(max_connections_per_peer=2)
    first, second = raw_connect(server.address), raw_connect(server.address)
    try:
        third = raw_connect(server.address, handshake=False)
        with third:
            assert is_closed_by_peer(third)  # refused: no WELCOME, just a close
        assert server.statistics().connections_refused == 1
    finally:
        first.close()
    assert wait_until(lambda: server.statistics().connections_open == 1)
    with second:
        assert still_answers(server)  # the freed slot is usable again


def test_idle_connections_are_closed_and_a_client_reconnects_transparently(make_server):
    server, _ = make_server(idle_timeout_s=0.3)
    with raw_connect(server.address) as idle:
        assert is_closed_by_peer(idle)
    assert server.statistics().idle_closed == 1
    with Client(server.address) as client:
        assert client.call("Echo.echo", 1, timeout=20) == 1
        # connections_open drops only after the socket is closed, so the client's next
        # call is sure to find the connection dead rather than race the close.
        assert wait_until(
            lambda: (
                server.statistics().idle_closed == 2 and server.statistics().connections_open == 0
            )
        )
        assert client.call("Echo.echo", 2, timeout=20) == 2  # reconnects, no error
        assert client.statistics().connections_made == 2


def test_a_connection_waiting_for_a_slow_handler_is_not_idle(make_server):
    server, service = make_server(idle_timeout_s=0.2)
    with Client(server.address) as client:
        slow = client.call_async("Echo.wait_for_release", timeout=60)
        assert service.started.wait(20)
        # The idle timeout fires while the handler runs, and is ignored.
        assert wait_until(lambda: server.statistics().idle_kept_for_handlers >= 2)
        service.release.set()
        assert slow.result(20) == "released"
    assert server.statistics().idle_closed == 0


def test_unfinished_frames_are_bounded_across_connections(make_server):
    server, _ = make_server(max_buffered_bytes=100_000, frame_timeout=30.0)
    payload = codec.pack([codec.REQUEST, 1, 0, "Echo.echo", ["x" * 70_000]])
    frame = HEADER.pack(len(payload), VERSION) + payload
    with raw_connect(server.address) as first, raw_connect(server.address) as second:
        first.sendall(frame[:60_000])
        assert wait_until(lambda: server.statistics().buffered_bytes >= 59_000)
        second.sendall(frame[:60_000])  # together over 100 kB: this one is closed
        assert is_closed_by_peer(second)
        assert server.statistics().over_buffer_budget_closed == 1
        first.sendall(frame[60_000:])  # the first one's frame completes and is served
        first.settimeout(20)
        reply = codec.unpack(read_frames(first, FrameDecoder(), 1)[0])
        assert reply[3] is True and len(reply[4]) == 70_000
    assert wait_until(lambda: server.statistics().buffered_bytes == 0)
    assert still_answers(server)


def test_the_duplicate_table_is_bounded_in_bytes_on_a_live_server(make_server):
    budget = 50_000
    server, service = make_server(duplicate_table=DuplicateTable(max_bytes=budget))
    with Client(server.address, at_most_once=True) as client:
        # An unfinished first call keeps ack at 0, so every later reply would be kept.
        slow = client.call_async("Echo.wait_for_release", timeout=60)
        assert service.started.wait(20)
        for i in range(20):
            assert client.call("Echo.echo", f"{i}" * 10_000, timeout=20) == f"{i}" * 10_000
        table = server.statistics().duplicate_table
        assert table.size_bytes <= budget
        assert table.forgotten_for_bytes > 0
        service.release.set()
        assert slow.result(20) == "released"
