"""Small socket helpers shared by the client and the server (the only I/O besides theirs)."""

from __future__ import annotations

import os
import socket
import struct
import time

from distlab.rpc.codec import BadMessage
from distlab.rpc.framing import FrameDecoder


def recv_one_frame(sock: socket.socket, decoder: FrameDecoder, deadline: float) -> bytes:
    """Read exactly one whole frame before ``deadline`` (``time.monotonic()`` based).

    Used only during the handshake, when nothing may follow the frame. Raises
    TimeoutError, EOFError (peer closed), FrameError or BadMessage.
    """
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("handshake timed out")
        sock.settimeout(remaining)
        chunk = sock.recv(4096)
        if not chunk:
            raise EOFError("peer closed the connection during the handshake")
        frames = decoder.feed(chunk)
        if frames:
            if len(frames) > 1 or decoder.partial:
                raise BadMessage("peer sent more than one frame during the handshake")
            return frames[0]


#: How long one send may make no progress before the connection counts as gone.
SEND_STALL_S = 10.0


def timeval(seconds: float) -> bytes:
    """SO_RCVTIMEO's and SO_SNDTIMEO's value: a struct timeval (a DWORD of milliseconds on
    Windows)."""
    if os.name == "nt":
        return struct.pack("I", max(1, int(seconds * 1000)))
    whole = int(seconds)
    return struct.pack("ll", whole, max(1, int((seconds - whole) * 1_000_000)))


def checked_send_stall(seconds: float) -> float:
    """``seconds`` as a send-stall bound (see `bound_send_stalls`); ValueError unless > 0."""
    if not seconds > 0:
        raise ValueError(f"send_stall_s must be > 0 seconds, got {seconds!r}")
    return seconds


def bound_send_stalls(sock: socket.socket, seconds: float = SEND_STALL_S) -> None:
    """Make a send that cannot move a byte for ``seconds`` fail instead of block.

    A blocking socket's sendall waits for as long as the peer does not read: a frozen
    peer, or a hostile one that never reads its replies, would pin the sending thread
    forever once the socket buffers are full, whatever the call's own timeout. With the
    socket's send timeout (SO_SNDTIMEO) the send fails with EAGAIN instead, and the caller
    drops the connection: its calls end as "may have run", a frame was half sent. A peer
    that reads slowly keeps the connection (every byte it takes restarts the timeout).
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval(seconds))
