"""One control protocol and one fault vocabulary for every way of running a cluster.

What it is: `ClusterControl`, the calls a nemesis, a workload, a scenario or a panel may
make on a running cluster -- ``names``, ``crash``, ``restart``, ``partition``,
``isolate``, ``heal``, ``status``, ``wait_for`` -- and `FaultKind`, the names of the faults
themselves. `distlab.sim.World` (virtual time) and `distlab.cluster.Cluster` (real
processes) both satisfy `ClusterControl`, so a scenario written once runs on either
(tests/kv/test_one_scenario_two_drivers.py does exactly that).
What it must never do: name a system; this is the drivers' side of the contract.
Where it fits: below `sim`, `cluster`, `check.nemesis` and `widgets`; above nothing.

The fault model, one model everywhere:

- process: ``crash`` (kill -9: unsynced state is lost), ``restart`` (from what was
  persisted), ``pause``/``resume`` (frozen, state kept);
- network: ``partition`` (symmetric groups), ``isolate`` (one node from all others),
  ``block`` (one-way), ``heal``, and per message ``drop``, ``delay``, ``duplicate``
  (which also reorders) and ``slow`` (every message of one node delayed).

Every random choice a fault makes comes from a printed seed (`distlab.core.derive_seed`), so
a failing run replays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, Protocol, runtime_checkable

from distlab.core.ids import NodeId


class FaultKind(str, Enum):
    """The faults of the model above (a str, so ``FaultKind.CRASH == "crash"``)."""

    CRASH = "crash"
    RESTART = "restart"
    PAUSE = "pause"
    RESUME = "resume"
    PARTITION = "partition"
    ISOLATE = "isolate"
    BLOCK = "block"
    HEAL = "heal"
    DROP = "drop"
    DELAY = "delay"
    DUPLICATE = "duplicate"
    SLOW = "slow"


@runtime_checkable
class NodeView(Protocol):
    """One node as a controller sees it: ``state`` is "up", "paused", "crashed", ...;
    ``fields`` are what the node's program or core reports (role, term, ...)."""

    name: NodeId
    state: str
    alive: bool
    fields: dict[str, Any]


@runtime_checkable
class ClusterControl(Protocol):
    """What both drivers offer: see the module docstring."""

    @property
    def names(self) -> Sequence[NodeId]:
        """Node names, in order."""
        ...

    def crash(self, name: NodeId) -> None:
        """Kill the node: what it did not persist is gone."""

    def restart(self, name: NodeId) -> None:
        """Start a crashed node again from what it persisted."""

    def partition(self, *groups: Iterable[NodeId]) -> None:
        """Nodes in different groups cannot reach each other (replaces earlier cuts)."""

    def isolate(self, name: NodeId) -> None:
        """Cut one node off from all the others, both ways."""

    def heal(self) -> None:
        """Remove every network fault."""

    def status(self) -> Mapping[NodeId, NodeView]:
        """Each node's state and fields."""
        ...

    def wait_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        """Let time pass until ``condition()`` holds (True) or ``timeout_s`` passed (False).

        Real seconds for real processes; virtual seconds in the simulator (its clock runs
        only while it waits), so the same scenario reads the same on both.
        """
        ...
