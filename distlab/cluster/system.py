"""How a system tells the cluster what to run: named systems, found through entry points.

What it is: `System`, the small description a replicated system gives of itself -- which
`NodeProgram` runs on each node and with which options, for the options a learner types
(``Cluster.start(3, service="kv", consistency="strong")``) -- and `find_system(name)`,
which finds the system registered under that name.
What it must never do: import a system. Systems register themselves in their package's
metadata (``[project.entry-points."distlab.systems"]`` in pyproject.toml: ``kv =
"distlab.kv.system:KV"``), the standard Python plugin mechanism, so `distlab.cluster`
knows none of them and an instructor's own system plugs in the same way, from its own
package.
Where it fits: `distlab.cluster.Cluster` calls `find_system` when it is started with
``service=NAME`` and no ``program=``; the chosen program's `NodeProgram.client_for` then
makes ``cluster.client()`` (the KV store's: a Clerk).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from distlab.cluster.program import NodeProgram

__all__ = ["ENTRY_POINT_GROUP", "Chosen", "System", "find_system", "system_names"]

ENTRY_POINT_GROUP = "distlab.systems"


@dataclass(frozen=True)
class Chosen:
    """What a system chose for some options: the program, its node options, and the choice
    in words (``{"consistency": "strong"}``), which ``Cluster.chosen`` shows."""

    program: type[NodeProgram]
    options: dict[str, Any] = field(default_factory=dict)
    choice: dict[str, Any] = field(default_factory=dict)


class System(Protocol):
    """A replicated system as the cluster sees it: options in, a program to run out."""

    def choose(self, **options: Any) -> Chosen:
        """The program and node options for these options; ValueError for bad ones."""
        ...


def system_names() -> list[str]:
    """The names registered under ``distlab.systems`` (in this Python environment)."""
    return sorted({point.name for point in entry_points(group=ENTRY_POINT_GROUP)})


def find_system(name: str) -> System:
    """The system registered as ``name``; LookupError naming the ones there are."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == name:
            return point.load()
    known = ", ".join(system_names()) or "none (is distlab installed? run `pip install -e .`)"
    raise LookupError(f"no system named {name!r}; registered systems: {known}")
