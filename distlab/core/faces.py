"""Names a package face offers but loads only on first use (PEP 562).

What it is: `lazy_attribute`, what a package's module-level ``__getattr__`` calls to hand out
a name that lives in a module the package does not import up front.
Why: a cluster may load a system's node program in a node process by its file path (when
the kernel cannot import distlab by name); a package face that imported that module back
would be a circular import. So the face lists those names and loads them on first use.
What it must never do: hide a name that does not exist (it raises AttributeError, as an
ordinary module would).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["lazy_attribute"]


def lazy_attribute(package: str, modules: Mapping[str, Collection[str]], name: str) -> Any:
    """``name`` from the module that ``modules`` (full module name -> the names the face
    takes from it) lists it under, imported now; AttributeError, naming ``package``, if
    the face does not offer ``name``."""
    for module, names in modules.items():
        if name in names:
            return getattr(importlib.import_module(module), name)
    raise AttributeError(f"module {package!r} has no attribute {name!r}")
