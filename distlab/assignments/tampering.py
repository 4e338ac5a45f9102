"""Spotting a notebook that tries to grade itself: learner cells that stand in for a check.

What it is: `find_tampering(notebook)` reads the learner's code cells (every code cell that
is not a check cell) with `ast` and lists each place that could make a check cell print a
verdict the real harness did not produce:

- binding a name a check cell calls (``check_bank = lambda *a: print(...)``, ``def
  check_bank``, ``import ... as check_bank``), other than importing it from
  ``distlab.assignments``;
- assigning an attribute of that name on anything (``harness.check_bank = ...``), or any
  attribute of a ``distlab`` module;
- reaching around names: ``setattr``, ``exec``, ``eval``, ``__import__``, ``globals()`` /
  ``vars()`` / ``__dict__`` / ``sys.modules`` stores, and replacing ``print`` or
  ``builtins``.

Check cells import their harness function themselves, so rebinding its name in an earlier
cell changes nothing; this scan closes the ways around that and says, in words, what it
found. What it must never do: run the notebook's code, or judge anything but the source.
It is a guard against the obvious, not a sandbox: learner code runs in the kernel that
checks it, so a grader that must be sure re-runs the harness on its own machine.
Where it fits: `distlab.assignments.checking.check_notebook` adds its findings to the report;
a notebook with any finding fails.
"""

from __future__ import annotations

import ast
from typing import Any

__all__ = ["check_names", "find_tampering"]

# Calls that can bind a name or an attribute without an assignment the scan would see.
_REACH_AROUND = {"setattr", "delattr", "exec", "eval", "__import__"}


def is_check_cell(source: str) -> bool:
    """A check cell starts with a ``# Check ...`` comment (see distlab.assignments.checking)."""
    from distlab.assignments.checking import check_title  # checking imports this module

    return check_title(source) is not None


def _code_cells(notebook: dict[str, Any]) -> list[tuple[int, str]]:
    return [
        (index, "".join(cell.get("source", "")))
        for index, cell in enumerate(notebook.get("cells", []))
        if cell.get("cell_type") == "code"
    ]


def check_names(notebook: dict[str, Any]) -> set[str]:
    """The names the check cells call (``check_bank`` in ``check_bank(Bank)``)."""
    names: set[str] = set()
    for _, source in _code_cells(notebook):
        if not is_check_cell(source):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                names.add(node.func.id)
    return names


def find_tampering(notebook: dict[str, Any]) -> list[str]:
    """Each suspicious place in the learner's cells, as ``cell N, line L: what``."""
    guarded = check_names(notebook)
    findings: list[tuple[int, int, str]] = []
    for index, source in _code_cells(notebook):
        if is_check_cell(source):
            continue
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue  # nbval reports it as a failing cell
        for node in ast.walk(tree):
            what = _suspicious(node, guarded)
            if what:
                findings.append((index, getattr(node, "lineno", 0), what))
    return [f"cell {cell}, line {line}: {what}" for cell, line, what in sorted(findings)]


def _suspicious(node: ast.AST, guarded: set[str]) -> str | None:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        if node.name in guarded:
            return f"defines {node.name}, which a check cell calls"
    elif isinstance(node, (ast.Import, ast.ImportFrom)):
        for alias in node.names:
            bound = alias.asname or alias.name.partition(".")[0]
            from_harness = (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("distlab.assignments")
                and alias.asname is None
            )
            if bound in guarded and not from_harness:
                return f"binds {bound}, which a check cell calls, by an import"
            if bound == "builtins":
                return "imports builtins (a check's output must come from the real print)"
    elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
        if node.id in guarded:
            return f"rebinds {node.id}, which a check cell calls"
        if node.id == "print":
            return "rebinds print"
    elif isinstance(node, ast.Attribute) and isinstance(node.ctx, (ast.Store, ast.Del)):
        if node.attr in guarded:
            return f"replaces the attribute {node.attr}, which a check cell calls"
        if "distlab" in ast.unparse(node.value) or node.attr == "print":
            return f"changes {ast.unparse(node)} (a distlab module or print)"
    elif isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
        target = ast.unparse(node.value)
        if any(word in target for word in ("globals()", "vars(", "__dict__", "sys.modules")):
            return f"writes into {target}"
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _REACH_AROUND
    ):
        return f"calls {node.func.id} (it can replace what a check cell calls)"
    return None
