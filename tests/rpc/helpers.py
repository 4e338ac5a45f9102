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
