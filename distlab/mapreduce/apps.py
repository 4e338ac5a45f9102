"""MapReduce applications: a map function and a reduce function, and the examples we ship.

An application is the *interface* (接口) a user writes against the MapReduce *abstraction*
(抽象): ``map_fn(filename, contents)`` yields ``(key, value)`` pairs; ``reduce_fn(key, values)``
returns one string for that key. Everything else (splitting, scheduling, shuffling, retrying
after crashes) is the framework's job.

Examples: word count, an inverted index, a slow/crashing word count for fault tests (like the
6.824 lab's ``crash`` plugin, but seeded), and a CPU-heavy word count for the benchmark.

What it must never do: keep state between calls that changes the result. A task may run twice
(after a timeout or a crash), so map and reduce must be deterministic functions of their input.
The crash variant's only side effect is a marker file that makes each crash happen once.
"""

from __future__ import annotations

import functools
import os
import re
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "MapReduceApp",
    "cpu_heavy_word_count",
    "crashing_word_count",
    "empty_app",
    "inverted_index",
    "slow_word_count",
    "word_count",
    "words",
]

MapFn = Callable[[str, str], Iterable[tuple[str, object]]]
ReduceFn = Callable[[str, list], str]


@dataclass(frozen=True)
class MapReduceApp:
    """A named pair of user functions.

    Attributes:
        name: shown in timelines and progress bars.
        map_fn: ``(filename, contents) -> iterable of (key: str, value)``; values must be
            JSON-serializable (they are written to intermediate files as JSON).
        reduce_fn: ``(key, values: list) -> str``, called once per distinct key, with the
            values in a deterministic order (by map task, then emission order).
    """

    name: str
    map_fn: MapFn
    reduce_fn: ReduceFn


_WORD = re.compile(r"[^\W\d_]+")  # runs of letters, as the 6.824 lab splits words


def words(contents: str) -> list[str]:
    """The words of a text: maximal runs of letters, lower-cased."""
    return [word.lower() for word in _WORD.findall(contents)]


def _word_count_map(filename: str, contents: str) -> list[tuple[str, str]]:
    return [(word, "1") for word in words(contents)]


def _word_count_reduce(key: str, values: list) -> str:
    return str(len(values))


def _index_map(filename: str, contents: str) -> list[tuple[str, str]]:
    document = os.path.basename(filename)
    return [(word, document) for word in sorted(set(words(contents)))]


def _index_reduce(key: str, values: list) -> str:
    documents = sorted(set(values))
    return f"{len(documents)} {','.join(documents)}"


word_count = MapReduceApp("word count", _word_count_map, _word_count_reduce)
"""Count each word's occurrences over all inputs (the paper's first example)."""

inverted_index = MapReduceApp("inverted index", _index_map, _index_reduce)
"""For each word: how many documents contain it, and which (``"2 a.txt,b.txt"``)."""


def _once(marker_dir: str, name: str) -> bool:
    """True the first time ``name`` is claimed in ``marker_dir`` (O_EXCL is atomic)."""
    try:
        fd = os.open(Path(marker_dir) / name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def _chosen(seed: int, label: str, percent: float) -> bool:
    # crc32, not hash(): Python salts str hashes per process, and every worker must agree.
    return zlib.crc32(f"{seed}:{label}".encode()) % 10_000 < percent * 100


def _misbehave(
    label: str,
    rate_divisor: float,
    *,
    seed: int,
    marker_dir: str,
    crash_percent: float,
    stall_percent: float,
    stall_s: float,
    delay_s: float,
) -> None:
    """The faulty apps' shared prelude: wait ``delay_s``, then maybe crash or stall, once."""
    time.sleep(delay_s)
    crash_chosen = _chosen(seed, label, crash_percent / rate_divisor)
    if crash_chosen and _once(marker_dir, f"crash-{label}"):
        os._exit(17)  # a crash mid-task: no report, no cleanup
    stall_chosen = _chosen(seed, "stall " + label, stall_percent / rate_divisor)
    if stall_chosen and _once(marker_dir, f"stall-{label}"):
        time.sleep(stall_s)  # a stall: longer than the coordinator's timeout


def _faulty_map(filename: str, contents: str, **faults: Any) -> list[tuple[str, str]]:
    _misbehave(f"map:{os.path.basename(filename)}", 1, **faults)
    return _word_count_map(filename, contents)


def _faulty_reduce(key: str, values: list, **faults: Any) -> str:
    # Per key, so the rates are divided by 50: a bucket holds a hundred keys or more.
    _misbehave(f"reduce:{key}", 50, **faults)
    return _word_count_reduce(key, values)


def crashing_word_count(
    marker_dir: str | os.PathLike[str],
    *,
    seed: int = 0,
    crash_percent: float = 30.0,
    stall_percent: float = 0.0,
    stall_s: float = 3.0,
    map_delay_s: float = 0.0,
    reduce_delay_s: float = 0.0,
) -> MapReduceApp:
    """Word count whose worker dies (``os._exit``) or stalls in a seeded choice of tasks.

    About ``crash_percent`` % of map splits crash their worker on the first attempt, and a
    few reduce keys do (the rate is divided by 50 per key). A stalled task sleeps ``stall_s``
    (make it longer than the job's ``task_timeout_s`` to see it handed to another worker).
    Each crash or stall happens once: it claims a marker file in ``marker_dir`` first. The
    output must equal :data:`word_count`'s.
    """
    options: dict[str, Any] = {
        "seed": seed,
        "marker_dir": str(marker_dir),
        "crash_percent": crash_percent,
        "stall_percent": stall_percent,
        "stall_s": stall_s,
    }
    return MapReduceApp(
        f"crashing word count (seed {seed})",
        functools.partial(_faulty_map, delay_s=map_delay_s, **options),
        functools.partial(_faulty_reduce, delay_s=reduce_delay_s, **options),
    )


def slow_word_count(map_delay_s: float = 0.3, reduce_delay_s: float = 0.001) -> MapReduceApp:
    """Word count that sleeps ``map_delay_s`` per map task and ``reduce_delay_s`` per key.

    Slow tasks make overlap between workers (parallelism, 并行) easy to see on a timeline.
    """
    options: dict[str, Any] = {
        "seed": 0,
        "marker_dir": "",
        "crash_percent": 0.0,
        "stall_percent": 0.0,
        "stall_s": 0.0,
    }
    return MapReduceApp(
        "slow word count",
        functools.partial(_faulty_map, delay_s=map_delay_s, **options),
        functools.partial(_faulty_reduce, delay_s=reduce_delay_s, **options),
    )


def _burn(word: str, rounds: int) -> int:
    """Deliberately CPU-bound pure Python: a chain of ``rounds`` crc32 steps."""
    value = zlib.crc32(word.encode())
    for _ in range(rounds):
        value = (value * 1_103_515_245 + 12_345) & 0xFFFFFFFF
    return value


def _cpu_map(filename: str, contents: str, *, rounds: int) -> list[tuple[str, str]]:
    pairs = []
    for word in words(contents):
        _burn(word, rounds)
        pairs.append((word, "1"))
    return pairs


def cpu_heavy_word_count(rounds: int = 200) -> MapReduceApp:
    """Word count whose map spends ``rounds`` loop steps of pure Python per word (CPU-bound)."""
    return MapReduceApp(
        f"cpu-heavy word count ({rounds} rounds/word)",
        functools.partial(_cpu_map, rounds=rounds),
        _word_count_reduce,
    )


def _empty_map(filename: str, contents: str) -> list[tuple[str, str]]:
    return []


def _empty_reduce(key: str, values: list) -> str:
    return ""


empty_app = MapReduceApp("empty", _empty_map, _empty_reduce)
"""Emits nothing: a job of empty tasks measures the framework's own overhead per task."""
