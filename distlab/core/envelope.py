"""A message in flight: who sent it, who should receive it, and the message itself.

What it is: `Envelope`, the unit every core hands its driver to send (inside a `Ready`).
What it must never do: hold behaviour or a reference to a node; drivers copy, delay,
duplicate and drop envelopes freely.
Where it fits: cores put messages in ``Ready.messages`` as envelopes; the simulator's network
and the real-process transports read ``src``/``dst`` to route them and never look inside.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from distlab.core.ids import NodeId


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message in flight: who sent it, who should receive it, and the message."""

    src: NodeId
    dst: NodeId
    message: Any
