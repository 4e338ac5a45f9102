"""Length-prefixed frames: how a byte stream is cut into messages. Pure: no sockets, no time.

A TCP connection delivers a stream of bytes, not messages; a single ``recv`` may return
half a message or three of them. Every frame therefore starts with a 5-byte header::

    +----------------+---------+---------------------------+
    | length: u32 BE | version | payload: `length` bytes   |
    +----------------+---------+---------------------------+

``length`` counts only the payload (not the header). ``version`` is ``VERSION`` (1).
The payload is one msgpack value (see ``codec.py`` and docs/WIRE_FORMAT.md).

What it must never do: buffer without bound. The length is checked against
``max_frame_bytes`` *before* any payload is buffered, so a peer announcing a 4 GiB
frame is refused after 5 bytes. Where it fits: the server and the client feed whatever
``recv`` returned to a ``FrameDecoder`` and get whole payloads back.
"""

from __future__ import annotations

import struct

VERSION = 1
HEADER = struct.Struct(">IB")  # pre-built: packing a header is one C call on the hot path
HEADER_SIZE = HEADER.size
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024


class FrameError(ValueError):
    """The byte stream broke the framing rules (bad version, oversized frame)."""


def encode_frame(payload: bytes, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> bytes:
    """One frame: header + payload, as a single buffer (so one ``sendall`` sends it)."""
    if len(payload) > max_frame_bytes:
        raise FrameError(f"frame of {len(payload)} bytes exceeds the limit of {max_frame_bytes}")
    return HEADER.pack(len(payload), VERSION) + payload


class FrameDecoder:
    """Turns chunks of a byte stream into whole payloads.

    ``feed(chunk)`` returns the payloads completed by that chunk (often exactly one).
    ``partial`` tells whether a frame has started but not finished, which the I/O
    driver uses to put a deadline on slow senders.
    """

    __slots__ = ("_buffer", "_need", "max_frame_bytes")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._buffer = bytearray()
        self._need = -1  # payload length of the frame in progress, -1 while reading a header

    @property
    def partial(self) -> bool:
        """True while bytes of an unfinished frame are buffered."""
        return bool(self._buffer) or self._need >= 0

    @property
    def buffered_bytes(self) -> int:
        """How many bytes wait for the rest of their frame."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add received bytes; return every payload they complete. Raises FrameError."""
        # Fast path: nothing buffered and the chunk is exactly one whole frame.
        if not self._buffer and len(chunk) >= HEADER_SIZE:
            length, version = HEADER.unpack_from(chunk)
            if len(chunk) == HEADER_SIZE + length and version == VERSION:
                if length > self.max_frame_bytes:
                    raise FrameError(
                        f"peer announced a frame of {length} bytes; the limit is "
                        f"{self.max_frame_bytes}"
                    )
                return [chunk[HEADER_SIZE:]]
        self._buffer += chunk
        frames: list[bytes] = []
        while True:
            if self._need < 0:
                if len(self._buffer) < HEADER_SIZE:
                    return frames
                length, version = HEADER.unpack_from(self._buffer)
                if version != VERSION:
                    raise FrameError(
                        f"frame version {version} is not supported (this side speaks {VERSION})"
                    )
                if length > self.max_frame_bytes:
                    raise FrameError(
                        f"peer announced a frame of {length} bytes; the limit is "
                        f"{self.max_frame_bytes}"
                    )
                del self._buffer[:HEADER_SIZE]
                self._need = length
            if len(self._buffer) < self._need:
                return frames
            frames.append(bytes(self._buffer[: self._need]))
            del self._buffer[: self._need]
            self._need = -1
