"""What a frame's payload means: msgpack arrays for requests, replies and the handshake.

The codec is msgpack (binary, compact, fast, and *safe*: decoding builds only plain
values — nil, bool, int, float, str, bytes, arrays, maps — never objects of arbitrary
classes). Each payload is one msgpack array whose first element is the message type:

    REQUEST  [0, request_id, lamport, method, args]            (+ [client_id, seq, ack])
    REPLY    [1, request_id, lamport, ok, value]   value = result, or
                                                   [kind, type_name, message, traceback]
    HELLO    [2, client_name, response, client_nonce]           client -> server
    WELCOME  [3, version, server_name, server_nonce]            server -> client, first
    READY    [4, server_response]                               server -> client
    DENIED   [5, reason]                                        server -> client, then close

What it must never do: unpickle, eval or import anything named by a peer; trust a
payload's shape; let a number off the wire reach state before it is checked against its
documented range (docs/WIRE_FORMAT.md §3). ``parse_request`` and friends check shapes and
ranges and raise ``BadMessage`` naming what was wrong. Where it fits: between ``framing``
(bytes) and the server/client.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

REQUEST, REPLY, HELLO, WELCOME, READY, DENIED = range(6)

# Ranges of the numbers and sizes a peer sends (docs/WIRE_FORMAT.md §3). They are checked
# before anything is done with the value, because a value outside them poisons state:
# a Lamport timestamp of 2**64-1 once pushed a server's clock past what msgpack can carry,
# after which no reply could be packed (issue 16 §1).
MAX_REQUEST_ID = 2**64 - 1  # only echoed back, never computed with: all of uint64
# Lamport timestamps and sequence numbers are computed with (max + 1, ack < seq): capping
# them at int64's maximum leaves 2**63 increments of headroom below msgpack's 2**64 limit
# and lets peers in languages without uint64 (Java, JavaScript) store them.
MAX_LAMPORT = 2**63 - 1
MAX_SEQ = 2**63 - 1
MAX_METHOD_CHARS = 256  # "Service.method"; echoed in error messages, so kept short
MAX_CLIENT_ID_CHARS = 64  # a key of the duplicate table: its size is memory the server keeps


class BadMessage(ValueError):
    """A payload decoded, but not to a message of the expected shape."""


def packer() -> msgpack.Packer:
    """A reusable Packer (not thread-safe: keep one per connection, used under its lock)."""
    return msgpack.Packer(use_bin_type=True, autoreset=True)


def unpack(payload: bytes) -> Any:
    """Decode one payload. Only plain values come out; raises BadMessage on garbage."""
    try:
        # strict_map_key=False lets int keys through (handy for services); still plain data.
        return msgpack.unpackb(payload, raw=False, use_list=True, strict_map_key=False)
    except (ValueError, TypeError, msgpack.UnpackException, RecursionError) as error:
        raise BadMessage(f"payload is not valid msgpack: {error}") from None


def _uint(value: Any, what: str, maximum: int) -> int:
    # type() rather than isinstance(): True and False are ints to isinstance.
    if type(value) is not int or not 0 <= value <= maximum:
        raise BadMessage(f"{what} must be an integer in 0..{maximum}, got {value!r:.40}")
    return value


def parse_request(message: Any) -> tuple[int, int, str, list, tuple[str, int, int] | None]:
    """Check a REQUEST's shape: (request_id, lamport, method, args, session or None)."""
    if type(message) is not list or len(message) not in (5, 6) or message[0] != REQUEST:
        raise BadMessage("expected a request: [0, request_id, lamport, method, args(, session)]")
    request_id, lamport, method = message[1], message[2], message[3]
    # The checks of _uint, written out: this runs for every request.
    if not (type(request_id) is int and 0 <= request_id <= MAX_REQUEST_ID):
        _uint(request_id, "request_id", MAX_REQUEST_ID)  # raises, naming what was wrong
    if not (type(lamport) is int and 0 <= lamport <= MAX_LAMPORT):
        _uint(lamport, "lamport", MAX_LAMPORT)
    if type(method) is not str:
        raise BadMessage(f"method must be a string, got {method!r:.40}")
    if len(method) > MAX_METHOD_CHARS:
        raise BadMessage(f"method name is {len(method)} characters; at most {MAX_METHOD_CHARS}")
    args = message[4]
    if type(args) is not list:
        raise BadMessage(f"args must be an array, got {type(args).__name__}")
    session = None
    if len(message) == 6:
        raw = message[5]
        if type(raw) is not list or len(raw) != 3 or type(raw[0]) is not str:
            raise BadMessage("session must be [client_id: str, seq: uint, ack: uint]")
        client_id = raw[0]
        if not 0 < len(client_id) <= MAX_CLIENT_ID_CHARS:
            raise BadMessage(
                f"session client_id must be 1..{MAX_CLIENT_ID_CHARS} characters, "
                f"got {len(client_id)}"
            )
        seq = _uint(raw[1], "seq", MAX_SEQ)
        if seq == 0:
            raise BadMessage(f"session seq must be in 1..{MAX_SEQ} (the first call is seq 1)")
        ack = _uint(raw[2], "ack", MAX_SEQ)
        if ack >= seq:
            # ack covers calls that have ended; the call being made has not.
            raise BadMessage(f"session ack ({ack}) must be below seq ({seq})")
        session = (client_id, seq, ack)
    return request_id, lamport, method, args, session


def parse_reply(message: Any) -> tuple[int | None, int, bool, Any]:
    """Check a REPLY's shape: (request_id or None, lamport, ok, value)."""
    if type(message) is not list or len(message) != 5 or message[0] != REPLY:
        raise BadMessage("expected a reply: [1, request_id, lamport, ok, value]")
    request_id, lamport = message[1], message[2]
    # The checks of _uint, written out: this runs for every reply.
    if request_id is not None and not (
        type(request_id) is int and 0 <= request_id <= MAX_REQUEST_ID
    ):
        _uint(request_id, "request_id", MAX_REQUEST_ID)  # raises, naming what was wrong
    if not (type(lamport) is int and 0 <= lamport <= MAX_LAMPORT):
        _uint(lamport, "lamport", MAX_LAMPORT)
    ok = message[3]
    if type(ok) is not bool:
        raise BadMessage("reply's ok flag must be a boolean")
    if not ok:
        value = message[4]
        if (
            type(value) is not list
            or len(value) != 4
            or not all(type(part) is str for part in value)
        ):
            raise BadMessage("error reply must carry [kind, type_name, message, traceback]")
    return request_id, lamport, ok, message[4]


def error_value(kind: str, type_name: str, message: str, traceback_text: str = "") -> list:
    """The value of an error reply."""
    return [kind, type_name, message, traceback_text]


def expect(message: Any, kind: int, length: int, name: str) -> list:
    """Check a handshake message's type and length."""
    if type(message) is not list or len(message) != length or message[0] != kind:
        raise BadMessage(f"expected a {name} message during the handshake, got {message!r:.60}")
    return message


_local = threading.local()


def pack(message: Any) -> bytes:
    """Encode one message with this thread's reusable Packer (about 2x faster than packb).

    Raises TypeError for values msgpack cannot carry (objects, sets, ...).
    """
    try:
        return _local.packer.pack(message)
    except AttributeError:
        _local.packer = packer()
        return _local.packer.pack(message)
