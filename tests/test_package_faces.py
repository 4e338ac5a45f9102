"""Notebooks and the README import only package faces (``from distlab.viz import ...``), so a
module moving inside a package never breaks a chapter; and every face's names exist."""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT = re.compile(r"^\s*(?:from|import) (distlab(?:\.\w+)*)", re.M)
# Deep imports a chapter may still make, each with the reason it stays deep.
ALLOWED_DEEP: set[str] = set()


def _sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                found.append((path.name, "".join(cell["source"])))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found += [("README.md", block) for block in re.findall(r"```python\n(.*?)```", readme, re.S)]
    return found


def test_chapters_and_readme_import_package_faces_only() -> None:
    deep = sorted(
        {
            (where, module)
            for where, source in _sources()
            for module in IMPORT.findall(source)
            if module.count(".") > 1
            and module not in ALLOWED_DEEP
            and not module.startswith("distlab.assignments.")  # a check cell imports its harness
        }
    )
    assert deep == [], f"deep imports (use the package's face): {deep}"


@pytest.mark.parametrize(
    "package",
    ["core", "sync", "storage", "rpc", "check", "sim", "raft", "cluster", "kv", "replicated",
     "mapreduce", "demos", "viz", "widgets", "engines", "primary_backup",
     "gfs", "chain",
     "coord",
     "frangipani", "txn", "aurora"],
)  # fmt: skip
def test_every_exported_name_exists(package: str) -> None:
    module = importlib.import_module(f"distlab.{package}")
    assert module.__all__, f"distlab.{package} exports nothing"
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
