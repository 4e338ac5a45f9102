"""The reference: the same job in one process, no files, no coordinator, no failures.

Deliberately naive and independent of the distributed code path (no buckets, no temp files),
so comparing the two is a real check: whatever the cluster does (parallelism, crashes,
re-executions), its output must equal this.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from distlab.mapreduce.apps import MapReduceApp

__all__ = ["run_sequential"]


def run_sequential(app: MapReduceApp, inputs: Sequence[str | os.PathLike[str]]) -> dict[str, str]:
    """Map every input, group values by key (in input order), reduce each key."""
    grouped: dict[str, list] = defaultdict(list)
    for path in inputs:
        contents = Path(path).read_text(encoding="utf-8")
        for key, value in app.map_fn(str(path), contents):
            grouped[key].append(value)
    return {key: app.reduce_fn(key, grouped[key]) for key in sorted(grouped)}
