"""Small socket helpers shared by the client and the server (the only I/O besides theirs)."""

from __future__ import annotations

import socket
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
