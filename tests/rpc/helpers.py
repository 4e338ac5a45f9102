"""Shared helpers for the rpc tests: services, a raw handshake, polling."""

from __future__ import annotations

import socket
import threading
import time

from distlab.rpc import codec
from distlab.rpc.framing import HEADER, VERSION, FrameDecoder


class Echo:
    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self._lock = threading.Lock()
        self.log: list = []

    def echo(self, value):
        return value

    def add(self, a, b):
        return a + b

    def append(self, token):
        with self._lock:
            self.log.append(token)
            return len(self.log)

    def fail(self, message):
        raise ValueError(message)

    def wait_for_release(self):
        self.started.set()
        if not self.release.wait(30):
            raise TimeoutError("test never released the slow handler")
        return "released"

    def unsendable(self):
        return object()


def wait_until(condition, timeout: float = 20.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def raw_connect(address, name: str = "raw", handshake: bool = True) -> socket.socket:
    """A bare socket that (optionally) completes the unauthenticated handshake."""
    sock = socket.create_connection(address, timeout=10)
    if handshake:
        decoder = FrameDecoder()
        welcome = read_frames(sock, decoder, 1)[0]
        assert codec.unpack(welcome)[0] == codec.WELCOME
        send(sock, [codec.HELLO, name, None, None])
        assert codec.unpack(read_frames(sock, decoder, 1)[0])[0] == codec.READY
    return sock


def send(sock: socket.socket, message) -> None:
    payload = codec.pack(message)
    sock.sendall(HEADER.pack(len(payload), VERSION) + payload)


def read_frames(sock: socket.socket, decoder: FrameDecoder, count: int) -> list[bytes]:
    frames: list[bytes] = []
    while len(frames) < count:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("closed")
        frames.extend(decoder.feed(chunk))
    return frames


def is_closed_by_peer(sock: socket.socket, timeout: float = 20.0) -> bool:
    """True when the server closes (or resets) the connection within ``timeout``."""
    sock.settimeout(timeout)
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


class HandMadeServer:
    """A listening socket whose connections the test answers by hand, or never."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(20)
        self.address = self.listener.getsockname()
        self.peers: list[HandMadePeer] = []

    def accept(self) -> HandMadePeer:
        sock, _ = self.listener.accept()
        sock.settimeout(20)
        peer = HandMadePeer(sock)
        self.peers.append(peer)
        return peer

    def __enter__(self) -> HandMadeServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for peer in self.peers:
            peer.close()
        self.listener.close()


class HandMadePeer:
    """The server's end of one accepted connection."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = FrameDecoder()

    def answer_handshake(self) -> None:
        send(self.sock, [codec.WELCOME, VERSION, "hand-made", None])
        hello = codec.unpack(read_frames(self.sock, self.decoder, 1)[0])
        assert hello[0] == codec.HELLO
        send(self.sock, [codec.READY, None])

    def read_requests(self, count: int) -> list[list]:
        """The next ``count`` requests: [REQUEST, request_id, lamport, method, args]."""
        frames = read_frames(self.sock, self.decoder, count)
        return [codec.unpack(frame) for frame in frames]

    def reply(self, request: list, value: object) -> None:
        send(self.sock, [codec.REPLY, request[1], 0, True, value])

    def is_closed_by_client(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()
