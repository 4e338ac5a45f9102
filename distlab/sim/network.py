"""A seeded, unreliable network for the simulator: drops, delays, duplicates, partitions.

What it is: `SimNetwork` decides, with its own seeded `random.Random`, what happens
to each message: lost, delivered after a random delay (so messages reorder), or
delivered twice. It also holds the partition state (symmetric groups and one-way
blocks) and counts what it carried.
What it must never do: deliver anything itself or know about any protocol's rules; it
only answers "when (if ever) does this envelope arrive?" and "may src reach dst now?". How
big a message is and whether it starts an exchange (a "request") are the system's to say
(``message_size``, ``is_request``), for the traffic counters.
Where it fits: owned by `distlab.sim.simulation.Simulation`, which schedules the
deliveries on its virtual clock and checks `can_deliver` again on arrival (a
partition that starts while a message is in flight still cuts it off).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.core import Envelope, NodeId


@dataclass(frozen=True)
class NetworkConfig:
    """How unreliable the network is. Delays are in ticks, drawn uniformly."""

    drop_rate: float = 0.0
    duplicate_rate: float = 0.0
    delay_ticks: tuple[int, int] = (1, 2)
    long_delay_rate: float = 0.0
    long_delay_ticks: tuple[int, int] = (10, 60)

    def __post_init__(self) -> None:
        for name in ("drop_rate", "duplicate_rate", "long_delay_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        for name in ("delay_ticks", "long_delay_ticks"):
            low, high = getattr(self, name)
            if not 1 <= low <= high:
                raise ValueError(f"{name} must be 1 <= low <= high ticks, got {(low, high)}")


RELIABLE = NetworkConfig()
"""Every message arrives once, after 1-2 ticks (still reordered across senders)."""

UNRELIABLE = NetworkConfig(
    drop_rate=0.1, duplicate_rate=0.05, delay_ticks=(1, 4), long_delay_rate=0.03
)
"""Like 6.824's unreliable network: losses, duplicates, and some very late messages."""


@dataclass(frozen=True)
class NetworkStatistics:
    """What the network carried so far."""

    sent: int
    delivered: int
    dropped: int
    duplicated: int
    bytes_sent: int
    requests_sent: int
    sent_by_type: dict[str, int]


class SimNetwork:
    """Seeded fault injection and partition state for the simulator."""

    def __init__(
        self,
        rng: random.Random,
        config: NetworkConfig = RELIABLE,
        *,
        message_size: Callable[[Any], int] = lambda message: 0,
        is_request: Callable[[type], bool] = lambda cls: False,
    ) -> None:
        self._rng = rng
        self.config = config
        self._message_size = message_size
        self._is_request = is_request
        self._blocked: set[tuple[NodeId, NodeId]] = set()
        self._disconnected: set[NodeId] = set()
        self.sent = 0
        self.delivered = 0
        self.dropped = 0
        self.duplicated = 0
        self.bytes_sent = 0
        # Sent messages counted by class: cheaper per message than by name, and
        # `requests_sent` and `sent_by_type` are derived from it when asked.
        self._sent_by_class: dict[type, int] = {}

    # -- partitions --------------------------------------------------------------------------

    def partition(self, *groups: list[NodeId] | tuple[NodeId, ...]) -> None:
        """Cut every link between different groups (both ways); nodes in no group stay linked."""
        self._blocked = set()
        for i, group in enumerate(groups):
            for other in groups[i + 1 :]:
                for a in group:
                    for b in other:
                        self._blocked.add((a, b))
                        self._blocked.add((b, a))

    def block(self, src: NodeId, dst: NodeId) -> None:
        """One-way cut: messages from ``src`` to ``dst`` are lost; the reverse still works."""
        self._blocked.add((src, dst))

    def disconnect(self, node_id: NodeId) -> None:
        """Isolate one node in both directions (6.824's ``disconnect``)."""
        self._disconnected.add(node_id)

    def connect(self, node_id: NodeId) -> None:
        """Undo `disconnect` for one node."""
        self._disconnected.discard(node_id)

    def is_connected(self, node_id: NodeId) -> bool:
        """False if the node was disconnected with `disconnect`."""
        return node_id not in self._disconnected

    def heal(self) -> None:
        """Remove every partition, block and disconnection."""
        self._blocked.clear()
        self._disconnected.clear()

    def can_deliver(self, src: NodeId, dst: NodeId) -> bool:
        """May a message go from ``src`` to ``dst`` right now?"""
        return (
            src not in self._disconnected
            and dst not in self._disconnected
            and (src, dst) not in self._blocked
        )

    @property
    def requests_sent(self) -> int:
        """How many requests (messages that start an exchange, e.g. RequestVote) were sent."""
        return sum(n for cls, n in self._sent_by_class.items() if self._is_request(cls))

    @property
    def sent_by_type(self) -> Counter[str]:
        """How many messages of each type (by class name) were sent."""
        counts: Counter[str] = Counter()
        for cls, n in self._sent_by_class.items():
            counts[cls.__name__] += n
        return counts

    # -- transmission ------------------------------------------------------------------------

    def transmit(self, envelope: Envelope, now: int) -> list[int]:
        """The ticks at which copies of ``envelope`` arrive: none if lost, two if duplicated."""
        # This runs for every message of every schedule, so it is written for speed:
        # counters by class, `can_deliver` asked only while some link is cut, and the
        # uniform delay drawn in line as int(random() * n). (Those draws, in this order,
        # are what a seed means: changing them would change every seeded run.)
        self.sent += 1
        message = envelope.message
        self.bytes_sent += self._message_size(message)
        sent_by_class = self._sent_by_class
        cls = type(message)
        sent_by_class[cls] = sent_by_class.get(cls, 0) + 1
        if (self._blocked or self._disconnected) and not self.can_deliver(
            envelope.src, envelope.dst
        ):
            self.dropped += 1
            return []
        config = self.config
        random_ = self._rng.random
        if config.drop_rate and random_() < config.drop_rate:
            self.dropped += 1
            return []
        copies = 1
        if config.duplicate_rate and random_() < config.duplicate_rate:
            copies = 2
            self.duplicated += 1
        arrivals = []
        for _ in range(copies):
            if config.long_delay_rate and random_() < config.long_delay_rate:
                low, high = config.long_delay_ticks
            else:
                low, high = config.delay_ticks
            arrivals.append(now + low + int(random_() * (high - low + 1)))
        return arrivals

    def statistics(self) -> NetworkStatistics:
        """Counts of what was sent, delivered, dropped and duplicated."""
        return NetworkStatistics(
            sent=self.sent,
            delivered=self.delivered,
            dropped=self.dropped,
            duplicated=self.duplicated,
            bytes_sent=self.bytes_sent,
            requests_sent=self.requests_sent,
            sent_by_type=dict(self.sent_by_type),
        )
