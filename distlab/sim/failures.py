"""How a seeded simulation says it went wrong.

What it is: `SimulationFailure` (a run did not behave as claimed; its message names the
seed to replay) and `SafetyViolation` (a system's safety property broke; it names the
property).
What it must never do: depend on any one protocol; every system's safety check raises these.
Where it fits: raised by `distlab.sim.World` and by the checks systems pass to it (Raft's
`distlab.sim.safety.SafetyChecker`, the weak store's convergence check, ...).
"""

from __future__ import annotations


class SimulationFailure(AssertionError):
    """A seeded simulation did not behave as claimed. The message names the seed to replay."""


class SafetyViolation(SimulationFailure):
    """One of a system's safety properties broke; ``property_name`` says which."""

    def __init__(self, property_name: str, message: str) -> None:
        super().__init__(message)
        self.property_name = property_name
