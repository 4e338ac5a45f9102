"""KV scenarios written once, against the contract: they run on real processes and in the simulator.

What it is: scenario functions that take a `distlab.core.ClusterControl` (a real
`distlab.cluster.Cluster` or a simulated `distlab.sim.World`) and a way to make KV
clients, do the same steps on either, and return what happened -- a `History` for the one
checker (`distlab.check.check_linearizable`) and the values the clients saw.

- `read_from_a_cut_off_node`: write, cut one node off, write on the majority side, read
  through a client that prefers the cut-off node, heal, wait until that client reads the
  new value. A weak store answers the read from the cut-off node's stale copy (the checker
  finds the violation); the strong store refuses there and answers from the majority
  (linearizable).

What it must never do: sleep, read the clock, or know which driver or which store it runs
on; time passes only through ``control.wait_for`` and the clients' own waits.
Where it fits: tests/kv/test_one_scenario_two_drivers.py runs it four ways (weak, strong
x simulated, real); a notebook may run it to show a learner one experiment on both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from distlab.check.history import History
from distlab.core import ClusterControl

__all__ = ["KVClient", "MakeClient", "ScenarioOutcome", "read_from_a_cut_off_node"]


class KVClient(Protocol):
    """What a scenario needs of a KV client (a real `Clerk` or a simulated `SimClerk`)."""

    def get(self, key: str) -> str: ...

    def put(self, key: str, value: str) -> None: ...


MakeClient = Callable[[str, str, History], KVClient]
"""``make_client(client_id, preferred_node, history)`` -> a client recording into history."""


@dataclass
class ScenarioOutcome:
    """What a scenario saw: the history to check, and named observations."""

    history: History
    seen: dict[str, Any]


def read_from_a_cut_off_node(
    control: ClusterControl, make_client: MakeClient, history: History, *, timeout_s: float = 30.0
) -> ScenarioOutcome:
    """See the module docstring. ``seen``: what the near client read while the node was cut
    off (``"read_inside"``) and whether every node converged after the heal."""
    first, second = control.names[0], control.names[1]
    near = make_client("near", first, history)  # prefers the node we will cut off
    far = make_client("far", second, history)
    near.put("x", "before")
    if not control.wait_for(lambda: far.get("x") == "before", timeout_s):
        raise AssertionError("the first write never reached the second node")
    control.isolate(first)
    far.put("x", "after")  # the majority side takes a new value
    read_inside = near.get("x")
    control.heal()
    converged = control.wait_for(lambda: near.get("x") == "after", timeout_s)
    return ScenarioOutcome(history, {"read_inside": read_inside, "converged": converged})
