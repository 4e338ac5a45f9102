"""What a worker does with one task: run the user's function and write its files atomically.

Map task ``m``: read the input split, call ``map_fn(filename, contents)``, put each pair in
bucket ``crc32(key) % n_reduce`` and write ``mr-<m>-<r>`` for every bucket ``r`` (empty ones
too, so a reduce never has to wonder whether a file is missing or merely empty).

Reduce task ``r``: read bucket ``r`` of every map output, sort by key, call
``reduce_fn(key, values)`` once per key, write ``mr-out-<r>`` as ``key<TAB>value`` lines.

Every file is written with :func:`distlab.storage.write_atomic` (temp file, rename): a worker
killed mid-write leaves at most a temp file, never a torn ``mr-*`` file, and a re-executed task
replaces a file with identical bytes, so nothing is ever duplicated.

What it must never do: use Python's ``hash()`` to partition (it is salted per process, so two
workers would disagree about buckets), or talk to the coordinator (the worker loop does that).
Intermediate files are JSON lines, not pickles: a file is data, never code.
"""

from __future__ import annotations

import itertools
import json
import os
import zlib
from pathlib import Path

from distlab.mapreduce.apps import MapReduceApp
from distlab.mapreduce.core import MapTask, ReduceTask
from distlab.storage import write_atomic

__all__ = [
    "TEMP_GLOB",
    "intermediate_name",
    "output_name",
    "partition",
    "read_output",
    "run_map_task",
    "run_reduce_task",
]

TEMP_GLOB = ".*.tmp-*"  # write_atomic's temp files, left behind only by a killed writer


def partition(key: str, n_reduce: int) -> int:
    """The reduce bucket of ``key``: stable across processes and machines (crc32)."""
    return zlib.crc32(key.encode("utf-8")) % n_reduce


def intermediate_name(map_id: int, reduce_id: int) -> str:
    return f"mr-{map_id}-{reduce_id}"


def output_name(reduce_id: int) -> str:
    return f"mr-out-{reduce_id}"


def run_map_task(app: MapReduceApp, task: MapTask, work_dir: str | os.PathLike[str]) -> int:
    """Run one map task; returns the number of pairs emitted."""
    contents = Path(task.input_path).read_text(encoding="utf-8")
    buckets: list[list[str]] = [[] for _ in range(task.n_reduce)]
    emitted = 0
    for pair in app.map_fn(task.input_path, contents):
        key, value = pair
        if not isinstance(key, str):
            raise TypeError(f"{app.name}: map_fn must emit str keys, got {type(key).__name__}")
        buckets[partition(key, task.n_reduce)].append(json.dumps([key, value]))
        emitted += 1
    for reduce_id, lines in enumerate(buckets):
        data = "".join(line + "\n" for line in lines).encode("utf-8")
        write_atomic(Path(work_dir) / intermediate_name(task.task_id, reduce_id), data)
    return emitted


def run_reduce_task(app: MapReduceApp, task: ReduceTask, work_dir: str | os.PathLike[str]) -> int:
    """Run one reduce task; returns the number of keys written."""
    pairs: list[tuple[str, object]] = []
    for map_id in range(task.n_map):
        path = Path(work_dir) / intermediate_name(map_id, task.task_id)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise FileNotFoundError(
                f"reduce {task.task_id} needs {path.name}, but map {map_id} has not written it "
                "(reduces must start only after every map is done)"
            ) from None
        pairs.extend(tuple(json.loads(line)) for line in text.splitlines())
    pairs.sort(key=lambda pair: pair[0])  # stable: values keep map order within a key
    lines = []
    for key, group in itertools.groupby(pairs, key=lambda pair: pair[0]):
        result = app.reduce_fn(key, [value for _, value in group])
        if not isinstance(result, str):
            raise TypeError(
                f"{app.name}: reduce_fn must return a str, got {type(result).__name__} "
                f"for key {key!r}"
            )
        if any(char in key + result for char in "\t\n"):
            raise ValueError(f"{app.name}: key and result may not contain tabs or newlines")
        lines.append(f"{key}\t{result}\n")
    write_atomic(Path(work_dir) / output_name(task.task_id), "".join(lines).encode("utf-8"))
    return len(lines)


def read_output(work_dir: str | os.PathLike[str], n_reduce: int) -> dict[str, str]:
    """Merge ``mr-out-0 .. mr-out-<n_reduce-1>`` into one ``{key: value}`` dict.

    Raises ValueError if a key appears twice: each key belongs to exactly one bucket, and a
    re-executed task replaces its file, so a duplicate means the job went wrong.
    """
    output: dict[str, str] = {}
    for reduce_id in range(n_reduce):
        path = Path(work_dir) / output_name(reduce_id)
        for line in path.read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("\t")
            if key in output:
                raise ValueError(f"key {key!r} appears twice in the output ({path.name})")
            output[key] = value
    return output
