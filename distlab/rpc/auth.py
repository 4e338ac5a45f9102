"""Who may connect: an HMAC challenge-response on a shared secret. Pure: no sockets.

Like ``multiprocessing``'s authkey: each side proves it knows the secret without sending
it. The server sends a fresh random nonce; the client answers
``HMAC-SHA256(secret, b"distlab-rpc/1 client|" + nonce)`` and sends its own nonce; the
server answers that with the label ``b"distlab-rpc/1 server|"``. Different labels per
direction stop a peer from reflecting one side's challenge back at it. Digests are
compared with ``hmac.compare_digest`` (constant time).

A server may also have a *control secret* (the cluster controller's, one per run): a client
that proves it (label ``b"distlab-rpc/1 control|"``, answering the same nonce) gets a
*control connection*, the only kind on which the methods that change a node's network or
peers (``Fault.set``, ``Node.set_peers``, ...) are served. Then HELLO's answer is the pair
``[data proof or None, control proof]``.

What it must never do: put the secret on the wire, or compare digests with ``==``.
Where it fits: the handshake in ``server.py`` and ``client.py``.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os

NONCE_BYTES = 32
CLIENT_LABEL = b"distlab-rpc/1 client|"
SERVER_LABEL = b"distlab-rpc/1 server|"
CONTROL_LABEL = b"distlab-rpc/1 control|"


def as_key(secret: str | bytes | None) -> bytes | None:
    """The secret as bytes (str is UTF-8 encoded); None means no authentication."""
    if secret is None:
        return None
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    if not key:
        raise ValueError("the shared secret must not be empty (use None for no authentication)")
    return key


def new_nonce() -> bytes:
    """A fresh random challenge."""
    return os.urandom(NONCE_BYTES)


def respond(key: bytes, label: bytes, nonce: bytes) -> bytes:
    """The answer to a challenge: HMAC-SHA256 over label + nonce."""
    return hmac.new(key, label + nonce, hashlib.sha256).digest()


def verify(key: bytes, label: bytes, nonce: bytes, response: object) -> bool:
    """True when ``response`` proves knowledge of ``key`` for this nonce."""
    if not isinstance(response, bytes):
        return False
    return hmac.compare_digest(respond(key, label, nonce), response)


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; the only addresses served without a secret."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost could resolve anywhere
