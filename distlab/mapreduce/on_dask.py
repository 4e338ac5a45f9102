"""The same word count on Dask distributed: an existing engine, for comparison with ours.

Dask (``pip install "dask[distributed]"``) is what a learner might reach for once one machine
is not enough: a scheduler process and worker processes, like our coordinator and workers,
but the job is a *task graph* built from a high-level collection (``dask.bag``) instead of
two user functions and a fixed map/shuffle/reduce shape. Here it runs as a ``LocalCluster``
of 2 worker processes on 127.0.0.1 with the dashboard turned off.

What it must never do: import dask at module import time (it is an optional dependency), or
leave the local cluster running (the ``with`` blocks close it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

from distlab.mapreduce.apps import words

__all__ = ["DaskRun", "dask_available", "dask_word_count"]


def dask_available() -> bool:
    """True if ``dask.distributed`` can be imported."""
    try:
        import dask.bag  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class DaskRun:
    """The word counts Dask computed, and how long it took (cluster start-up apart)."""

    output: dict[str, str]
    seconds: float
    startup_seconds: float
    workers: int
    tasks_in_graph: int


def dask_word_count(inputs: Sequence[str | os.PathLike[str]], workers: int = 2) -> DaskRun:
    """Count words over ``inputs`` with ``dask.bag`` on a local cluster of worker processes.

    ``read_text`` makes one partition per file (like our map splits); ``frequencies()``
    does the per-partition counting and the combining that our shuffle and reduce do.
    """
    import dask.bag as db
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    with (
        LocalCluster(
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            host="127.0.0.1",
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(workers, timeout=60)
        startup = time.perf_counter() - started
        bag = db.read_text([str(path) for path in inputs]).map(words).flatten().frequencies()
        graph_tasks = len(bag.__dask_graph__())
        began = time.perf_counter()
        counts = dict(bag.compute())
        seconds = time.perf_counter() - began
    output = {word: str(count) for word, count in sorted(counts.items())}
    return DaskRun(output, seconds, startup, workers, graph_tasks)
