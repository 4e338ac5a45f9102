"""The drivers know the contract, never a system: a walk over every import proves it.

Every ``import``/``from`` in the listed modules (function-local ones included) and every
string that names a distlab module is read with `ast`; none may reach a system package.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import distlab

PACKAGE = Path(distlab.__file__).parent
SYSTEMS = ("raft", "kv", "replicated", "mapreduce", "engines", "assignments", "demos", "coord")
SYSTEMS += ("aurora",)  # chapter 13


def _imported_and_named(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and node.value.startswith("distlab.")
            and " " not in node.value
        ):
            found.add(node.value.partition(":")[0])  # "module:Class" strings count too
    return {name for name in found if name.startswith("distlab.")}


def _system_imports(paths: list[Path]) -> dict[str, list[str]]:
    bad: dict[str, list[str]] = {}
    for path in paths:
        hits = sorted(name for name in _imported_and_named(path) if name.split(".")[1] in SYSTEMS)
        if hits:
            bad[str(path.relative_to(PACKAGE))] = hits
    return bad


@pytest.mark.parametrize(
    "files",
    [
        sorted((PACKAGE / "cluster").glob("*.py")),
        sorted((PACKAGE / "core").glob("*.py")),
        [PACKAGE / "sim" / name for name in ("world.py", "network.py", "clock.py", "failures.py")],
    ],
    ids=["cluster", "core", "sim-world"],
)
def test_drivers_and_the_contract_import_no_system(files: list[Path]) -> None:
    assert files and _system_imports(files) == {}


def test_the_contract_depends_on_nothing_of_ours() -> None:
    for path in sorted((PACKAGE / "core").glob("*.py")):
        outside = {n for n in _imported_and_named(path) if not n.startswith("distlab.core")}
        assert outside == set(), f"{path.name} imports {outside}"


def test_the_walk_sees_what_it_should() -> None:
    """The walk is not vacuous: it finds the imports a system module really makes."""
    assert "distlab.replicated.raft_peer" in _imported_and_named(PACKAGE / "kv" / "strong_node.py")
    assert _system_imports([PACKAGE / "kv" / "system.py"])
