"""Names of nodes, and the one way to derive a seed from another.

What it is: `NodeId` (a node's name, e.g. ``"n0"``) and `derive_seed(seed, *path)`, which
turns a run's seed and a path of names (``derive_seed(7, "n1", "gossip")``) into an
independent seed.
What it must never do: depend on the process (``hash()`` of a str changes per process) or
on anything but its arguments; the same arguments give the same seed on every machine.
Where it fits: every driver and core that needs randomness derives it from the run's one
printed seed through here, so a failing run can be replayed from that seed alone, and two
streams (a node's fault injection and its gossip, say) never share a sequence by accident.
"""

from __future__ import annotations

import hashlib

NodeId = str
"""A node's name, e.g. ``"n0"``."""


def derive_seed(seed: int | str, *path: object) -> int:
    """An independent seed (a non-negative 63-bit int: it fits every int64 field of a wire
    format) for the stream named ``path`` under ``seed``.

    >>> derive_seed(7, "n1", "gossip") == derive_seed(7, "n1", "gossip")
    True
    >>> derive_seed(7, "n1", "gossip") != derive_seed(7, "n1", "faults")
    True
    """
    text = "/".join(repr(part) for part in (seed, *path))
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1
