"""A TCP link proxy on loopback that can cut traffic: a partition without root or firewall.

Real partitions need ``iptables`` or network namespaces (root, and they change the whole
machine). Instead, each server is told to reach its peer through a `LinkProxy` that we run
in this process: the proxy listens on a free loopback port and forwards bytes to the real
port. Cutting a link closes its connections and refuses new ones (like a firewall's
REJECT); healing lets connections through again, and the servers reconnect on their own.

Which peer is on the other end? Plain TCP on loopback cannot tell (every connection comes
from 127.0.0.1), so the proxy may read the first bytes of each connection and ask an
``identify`` function. etcd's peer traffic is HTTP, and every raft request carries the
sender's member id in an ``X-Server-From`` header (`etcd_peer_identity`), so one proxy in
front of each member's peer port can cut exactly the links to chosen members. For a link
that has only one peer (a Redis replica's connection to its primary), no identification is
needed: ``cut()`` cuts everything.

What it must never do: listen on anything but loopback, or keep threads after ``close()``.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["LinkProxy", "ProxyStatistics", "etcd_peer_identity"]

_HEADER_LIMIT = 16_384
_FROM_HEADER = re.compile(rb"\r\nX-Server-From:\s*([0-9a-fA-F]+)\r\n", re.IGNORECASE)


def etcd_peer_identity(first_bytes: bytes) -> str | None:
    """The etcd member id (hex) that sent this HTTP request, or None if it does not say."""
    found = _FROM_HEADER.search(first_bytes)
    return found.group(1).decode().lower() if found else None


@dataclass(frozen=True)
class ProxyStatistics:
    """What a proxy has forwarded and refused."""

    accepted: int
    refused: int
    cut_connections: int
    open_connections: int
    bytes_forwarded: int


class _Link:
    def __init__(self, downstream: socket.socket, peer: str | None) -> None:
        self.downstream = downstream
        self.upstream: socket.socket | None = None
        self.peer = peer

    def shut(self) -> None:
        for sock in (self.downstream, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()


class LinkProxy:
    """Forward connections from a free loopback port to ``upstream``, with cut and heal.

    ``identify(first_bytes)`` names the peer at the other end of a connection (None: unknown);
    without it the proxy forwards bytes as they come. ``cut(peers)`` blocks those peers
    (``cut()`` blocks everyone, including unknown peers); ``heal()`` lifts every block.
    """

    def __init__(
        self,
        upstream: tuple[str, int],
        *,
        name: str = "proxy",
        identify: Callable[[bytes], str | None] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.name = name
        self.upstream = upstream
        self._identify = identify
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._blocked: set[str] = set()
        self._block_all = False
        self._accepted = self._refused = self._cut = self._bytes = 0
        self._closed = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(64)
        self.address: tuple[str, int] = self._listener.getsockname()[:2]
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{name}-accept", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self.address[1]

    # ----- faults ------------------------------------------------------------------------

    def cut(self, peers: Iterable[str] | None = None) -> None:
        """Refuse ``peers`` (all traffic if None) and close their open connections now."""
        with self._lock:
            if peers is None:
                self._block_all = True
            else:
                self._blocked.update(peers)
            doomed = [link for link in self._links if self._is_blocked(link.peer)]
            for link in doomed:
                self._links.discard(link)
            self._cut += len(doomed)
        for link in doomed:
            link.shut()

    def heal(self) -> None:
        """Let every peer through again (closed connections are re-made by the servers)."""
        with self._lock:
            self._blocked.clear()
            self._block_all = False

    def retarget(self, upstream: tuple[str, int]) -> None:
        """Forward new connections to ``upstream``; close the open ones (they reconnect)."""
        with self._lock:
            self.upstream = upstream
            links = list(self._links)
            self._links.clear()
        for link in links:
            link.shut()

    @property
    def is_cut(self) -> bool:
        with self._lock:
            return self._block_all or bool(self._blocked)

    def _is_blocked(self, peer: str | None) -> bool:
        return self._block_all or (peer is not None and peer in self._blocked)

    # ----- forwarding --------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(
                target=self._serve, args=(downstream,), name=f"{self.name}-link", daemon=True
            ).start()

    def _serve(self, downstream: socket.socket) -> None:
        first = b""
        peer = None
        if self._identify is not None:
            # Read the request head (the sender speaks first in HTTP), then ask who it is.
            downstream.settimeout(5.0)
            try:
                while b"\r\n\r\n" not in first and len(first) < _HEADER_LIMIT:
                    chunk = downstream.recv(4096)
                    if not chunk:
                        break
                    first += chunk
            except OSError:
                pass
            downstream.settimeout(None)
            peer = self._identify(first)
        link = _Link(downstream, peer)
        with self._lock:
            refused = self._closed or self._is_blocked(peer)
            if refused:
                self._refused += 1
            else:
                self._accepted += 1
                self._links.add(link)
        if refused:
            link.shut()
            return
        try:
            link.upstream = socket.create_connection(self.upstream, timeout=5.0)
            link.upstream.settimeout(None)
            if first:
                link.upstream.sendall(first)
        except OSError:
            self._drop(link)
            return
        threading.Thread(
            target=self._pump, args=(link, link.upstream, downstream), daemon=True
        ).start()
        self._pump(link, downstream, link.upstream)

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
                with self._lock:
                    self._bytes += len(data)
        except OSError:
            pass
        self._drop(link)

    def _drop(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)
        link.shut()

    # ----- lifecycle ---------------------------------------------------------------------

    def statistics(self) -> ProxyStatistics:
        with self._lock:
            return ProxyStatistics(
                accepted=self._accepted,
                refused=self._refused,
                cut_connections=self._cut,
                open_connections=len(self._links),
                bytes_forwarded=self._bytes,
            )

    def close(self) -> None:
        """Stop listening and close every connection."""
        with self._lock:
            self._closed = True
            links = list(self._links)
            self._links.clear()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for link in links:
            link.shut()
        self._thread.join(timeout=5)

    def __repr__(self) -> str:
        return f"LinkProxy({self.name!r}, {self.address} -> {self.upstream})"
