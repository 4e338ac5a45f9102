"""distlab.mapreduce: the MapReduce paper's coordinator and workers, over real RPC and processes.

* :class:`MapReduceApp` and the examples :data:`word_count`, :data:`inverted_index`,
  :func:`slow_word_count`, :func:`crashing_word_count`, :func:`cpu_heavy_word_count`.
* :func:`run_job` / :class:`Job` -- a coordinator on :mod:`distlab.rpc` in this process, worker
  processes that ask for tasks, crashes survived (``Job.kill_worker``, :class:`KillPlan`).
* :func:`run_sequential` -- the one-process reference every run is compared with.
* :class:`Coordinator` -- the pure state machine (tasks idle / in progress / done, timeouts).
* :func:`corpus_paths` -- the small generated text corpus shipped in ``distlab/data``.

Only :mod:`distlab.mapreduce.job` starts processes; the core and the task code do no I/O
beyond the files of one task.
"""

from distlab.mapreduce.apps import (
    MapReduceApp,
    cpu_heavy_word_count,
    crashing_word_count,
    empty_app,
    inverted_index,
    slow_word_count,
    word_count,
)
from distlab.mapreduce.core import Coordinator, CoordinatorStatistics, TaskEvent, TaskState
from distlab.mapreduce.corpus import corpus_paths, generate_corpus, write_corpus
from distlab.mapreduce.job import Job, JobResult, KillPlan, MapReduceError, TaskRun, run_job
from distlab.mapreduce.on_dask import dask_word_count
from distlab.mapreduce.scaling import measure_scaling
from distlab.mapreduce.sequential import run_sequential
from distlab.mapreduce.tasks import intermediate_name, output_name, partition

__all__ = [
    "Coordinator",
    "CoordinatorStatistics",
    "Job",
    "JobResult",
    "KillPlan",
    "MapReduceApp",
    "MapReduceError",
    "TaskEvent",
    "TaskRun",
    "TaskState",
    "corpus_paths",
    "cpu_heavy_word_count",
    "crashing_word_count",
    "dask_word_count",
    "empty_app",
    "generate_corpus",
    "intermediate_name",
    "inverted_index",
    "measure_scaling",
    "output_name",
    "partition",
    "run_job",
    "run_sequential",
    "slow_word_count",
    "word_count",
    "write_corpus",
]
