"""The worker: ask the coordinator for a task, run it, report, repeat; exit when told.

:func:`run_worker` is the loop, written against a ``call(method, *args)`` function so tests can
drive it in-process against a :class:`~distlab.mapreduce.service.CoordinatorService`.
:func:`worker_main` is the entry point of a worker *process*: it unpacks the application
(pickled by the trusted parent when it started this process), connects an rpc Client to the
coordinator, and runs the loop.

What it must never do: unpickle anything that arrived over a socket (tasks are plain dicts of
ids and paths), print (a child's stdout lands in a random notebook cell), or outlive its
parent (a watchdog thread exits when the parent process is gone). If the coordinator cannot
be reached, the job is over: like the 6.824 lab's workers, it simply exits.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from distlab.mapreduce.apps import MapReduceApp
from distlab.mapreduce.core import MapTask, ReduceTask
from distlab.mapreduce.tasks import run_map_task, run_reduce_task

__all__ = ["CoordinatorGone", "WorkerSummary", "run_worker", "worker_main"]

Call = Callable[..., Any]


class CoordinatorGone(Exception):
    """The coordinator did not answer: the job is over (or the coordinator crashed)."""


@dataclass(frozen=True)
class WorkerSummary:
    """What one worker did before it exited."""

    worker_id: str
    maps: int
    reduces: int
    failures: int
    reason: str  # "exit" (told to) or "coordinator gone"


def run_worker(
    call: Call,
    worker_id: str,
    app: MapReduceApp,
    work_dir: str,
    *,
    poll_s: float = 0.05,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkerSummary:
    """Ask for tasks until told to exit. ``call("Coordinator.request_task", id)`` etc."""
    maps = reduces = failures = 0
    while True:
        try:
            reply = call("Coordinator.request_task", worker_id)
        except CoordinatorGone:
            return WorkerSummary(worker_id, maps, reduces, failures, "coordinator gone")
        kind = reply["kind"]
        if kind == "exit":
            return WorkerSummary(worker_id, maps, reduces, failures, "exit")
        if kind == "wait":
            sleep(poll_s)
            continue
        started = clock()
        try:
            if kind == "map":
                run_map_task(app, MapTask(**reply), work_dir)
                maps += 1
            elif kind == "reduce":
                run_reduce_task(app, ReduceTask(**reply), work_dir)
                reduces += 1
            else:
                raise ValueError(f"coordinator sent an unknown task kind {kind!r}")
        except Exception as error:  # the user's code raised: tell the coordinator, go on
            failures += 1
            message = "".join(traceback.format_exception_only(type(error), error)).strip()
            try:
                call(
                    "Coordinator.report_failed",
                    worker_id,
                    kind,
                    reply["task_id"],
                    reply["attempt"],
                    message,
                )
            except CoordinatorGone:
                return WorkerSummary(worker_id, maps, reduces, failures, "coordinator gone")
            continue
        finished = clock()
        try:
            call(
                "Coordinator.report_done",
                worker_id,
                kind,
                reply["task_id"],
                reply["attempt"],
                started,
                finished,
            )
        except CoordinatorGone:
            return WorkerSummary(worker_id, maps, reduces, failures, "coordinator gone")


def _exit_with_parent() -> None:
    """Start a daemon thread that ends this process when its parent dies (no orphans)."""
    import multiprocess

    parent = multiprocess.parent_process()
    if parent is None:
        return

    def watch() -> None:
        parent.join()  # waits on the parent's sentinel
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def worker_main(
    address: tuple[str, int],
    worker_id: str,
    app_payload: bytes,
    work_dir: str,
    poll_s: float = 0.05,
    rpc_timeout_s: float = 5.0,
) -> None:
    """Entry point of a worker process (started with spawn by :class:`~distlab.mapreduce.Job`).

    ``app_payload`` is the application pickled with dill by the parent at start-up: trusted
    bytes handed over once, never bytes read from a socket.
    """
    _exit_with_parent()
    import dill

    from distlab.rpc import Client
    from distlab.rpc.errors import (
        BadArguments,
        BadRequest,
        RemoteError,
        RpcError,
        RpcTimeout,
        UnknownMethod,
    )

    app = dill.loads(app_payload)
    client = Client((address[0], int(address[1])), name=worker_id)

    def call(method: str, *args: Any) -> Any:
        for _ in range(3):  # a loaded machine may be slow to answer; a dead one refuses
            try:
                return client.call(method, *args, timeout=rpc_timeout_s)
            except RpcTimeout:
                continue
            except (RemoteError, UnknownMethod, BadArguments, BadRequest):
                raise  # a bug on one side or the other: fail loudly, do not hide it
            except RpcError as error:  # refused, connection lost: the coordinator is gone
                raise CoordinatorGone(str(error)) from error
        raise CoordinatorGone(f"no answer to {method} after 3 tries")

    try:
        run_worker(call, worker_id, app, work_dir, poll_s=poll_s)
    finally:
        client.close()
