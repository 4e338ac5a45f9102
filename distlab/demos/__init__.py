"""Small, self-contained experiments the chapters run: races, a crawler, speed-up, toy replicas.

Each module is one experiment a notebook calls in a line or two. They use the
library's real primitives (threads, processes, sockets) but keep no state
between calls, so a notebook can re-run them freely.
"""

from distlab.demos.crawler import CRAWLERS, FakeWeb
from distlab.demos.races import (
    bank_transfers,
    lost_updates_sweep,
    opposite_order_transfers,
    race_counter,
)
from distlab.demos.rpc_bench_reading import RPC_BENCH_TARGETS, read_rpc_bench
from distlab.demos.rpc_examples import KV, Ledger, run_semantics, timeout_outcomes, traced_calls
from distlab.demos.speedup import measure_speedup, split_range
from distlab.demos.task_farm import run_farm
from distlab.demos.toy_store import NaiveReplicas, ToyServer, crash_and_repair

__all__ = [
    "CRAWLERS",
    "KV",
    "RPC_BENCH_TARGETS",
    "FakeWeb",
    "Ledger",
    "NaiveReplicas",
    "ToyServer",
    "bank_transfers",
    "crash_and_repair",
    "lost_updates_sweep",
    "measure_speedup",
    "opposite_order_transfers",
    "race_counter",
    "read_rpc_bench",
    "run_farm",
    "run_semantics",
    "split_range",
    "timeout_outcomes",
    "traced_calls",
]
