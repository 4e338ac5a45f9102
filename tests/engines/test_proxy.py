"""LinkProxy: forwards bytes, cuts chosen peers (etcd's X-Server-From), heals."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from distlab.engines.proxy import LinkProxy, etcd_peer_identity


@pytest.fixture
def echo_server():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    stop = threading.Event()

    def serve(conn):
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data)

    def accept():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()
    stop.set()
    listener.close()


def _request(member_id: str) -> bytes:
    return (
        f"GET /raft/stream/msgappv2/{member_id} HTTP/1.1\r\nHost: x\r\n"
        f"X-Server-From: {member_id}\r\nX-Raft-To: 1\r\n\r\n"
    ).encode()


def _echoes(address, payload: bytes) -> bool:
    """True if the proxy forwards ``payload`` and the echo comes back."""
    try:
        with socket.create_connection(address, timeout=2) as sock:
            sock.sendall(payload)
            got = b""
            while len(got) < len(payload):
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                got += chunk
            return got == payload
    except OSError:
        return False


def test_identity_is_read_from_the_etcd_peer_header():
    assert etcd_peer_identity(_request("8e9e05c52164694d")) == "8e9e05c52164694d"
    assert etcd_peer_identity(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n") is None


def test_cut_refuses_only_the_named_peer_and_heal_lets_it_back(echo_server):
    proxy = LinkProxy(echo_server, identify=etcd_peer_identity)
    try:
        assert _echoes(proxy.address, _request("aa"))
        with socket.create_connection(proxy.address, timeout=2) as open_link:
            open_link.sendall(_request("aa"))
            open_link.recv(4096)
            proxy.cut(["aa"])
            open_link.settimeout(2)
            # The open connection of the cut peer is closed by the proxy.
            assert open_link.recv(4096) == b""
        assert not _echoes(proxy.address, _request("aa"))
        assert _echoes(proxy.address, _request("bb"))
        proxy.heal()
        assert _echoes(proxy.address, _request("aa"))
        stats = proxy.statistics()
        assert stats.refused >= 1 and stats.cut_connections == 1 and stats.bytes_forwarded > 0
    finally:
        proxy.close()


def test_cut_without_peers_blocks_everything_and_retarget_moves_links(echo_server):
    proxy = LinkProxy(("127.0.0.1", 1))  # nothing listens on port 1
    try:
        assert not _echoes(proxy.address, b"ping")
        proxy.retarget(echo_server)
        assert _echoes(proxy.address, b"ping")
        proxy.cut()
        assert proxy.is_cut and not _echoes(proxy.address, b"ping")
        proxy.heal()
        deadline = time.monotonic() + 5
        while not _echoes(proxy.address, b"ping") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _echoes(proxy.address, b"ping")
    finally:
        proxy.close()
