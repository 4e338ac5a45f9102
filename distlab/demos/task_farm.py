"""A task farm that survives a worker being killed mid-task: fault tolerance in miniature.

A coordinator hands tasks, one at a time, to worker processes over pipes. If a
worker dies (a real SIGKILL, no goodbye), the coordinator notices through the
process's sentinel, puts the task that worker held back in the queue, and
another worker runs it. The job's answer is the same as without the crash.

This is the idea MapReduce's coordinator uses (chapter 04) reduced to its core:
tasks are deterministic and side-effect free, so running one twice is harmless,
and the only state worth protecting (which tasks are done) lives in the
coordinator.

What it must never do: unpickle bytes from a worker. Tasks and results travel
as JSON over the pipe (``send_bytes``/``recv_bytes``), not as pickles.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from multiprocess.connection import wait

from distlab.demos.speedup import MAIN_GUARD_HINT, SPAWN, count_primes


def _worker_loop(connection) -> None:  # runs in the worker process
    while True:
        try:
            message = connection.recv_bytes()
        except EOFError:  # the coordinator closed our pipe: the job is over
            return
        request = json.loads(message)
        if request["op"] == "stop":
            return
        low, high = request["bounds"]
        answer = count_primes((low, high))
        connection.send_bytes(json.dumps({"task": request["task"], "answer": answer}).encode())


@dataclass
class FarmReport:
    """What happened during one job: the answer, the crash, and which tasks ran twice."""

    answer: int
    tasks: int
    killed_workers: list[int] = field(default_factory=list)
    reassigned_tasks: list[int] = field(default_factory=list)
    runs_per_task: dict[int, int] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)
    seconds: float = 0.0

    def timeline(self) -> str:
        return "\n".join(f"{at:6.3f}s  {text}" for at, text in self.events)


def run_farm(
    ranges: Sequence[tuple[int, int]],
    workers: int = 2,
    *,
    kill_worker: int | None = None,
    kill_on_task_number: int = 1,
    deadline_s: float = 120.0,
) -> FarmReport:
    """Count primes over `ranges` on `workers` processes.

    With `kill_worker=i`, worker i is SIGKILLed the moment it is handed its
    `kill_on_task_number`-th task, so the crash always lands mid-task. The default, its
    first task, is handed to every worker at the start, so the crash happens on every
    run however loaded the machine is (a later task might all go to a faster worker).
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if kill_worker is not None and not 0 <= kill_worker < workers:
        raise ValueError(f"kill_worker must name one of the {workers} workers")
    if kill_worker is not None and workers < 2:
        raise ValueError("killing the only worker leaves nobody to finish the job")
    report = FarmReport(answer=0, tasks=len(ranges))
    started = time.perf_counter()

    def note(text: str) -> None:
        report.events.append((time.perf_counter() - started, text))

    pending = deque(range(len(ranges)))
    results: dict[int, int] = {}
    processes, pipes, holding, handed = [], [], {}, {}
    try:
        for index in range(workers):
            parent_end, child_end = SPAWN.Pipe()
            process = SPAWN.Process(target=_worker_loop, args=(child_end,), daemon=True)
            process.start()
            child_end.close()
            processes.append(process)
            pipes.append(parent_end)
            handed[index] = 0
            note(f"worker {index} started")
        alive = set(range(workers))

        def hand_out(index: int) -> None:
            if not pending:
                return
            task = pending.popleft()
            holding[index] = task
            handed[index] += 1
            report.runs_per_task[task] = report.runs_per_task.get(task, 0) + 1
            message = {"op": "run", "task": task, "bounds": list(ranges[task])}
            pipes[index].send_bytes(json.dumps(message).encode())
            note(f"task {task} -> worker {index}")
            if index == kill_worker and handed[index] == kill_on_task_number:
                os.kill(processes[index].pid, signal.SIGKILL)
                note(f"worker {index} killed (SIGKILL) while running task {task}")

        for index in range(workers):
            hand_out(index)
        while len(results) < len(ranges):
            if time.perf_counter() - started > deadline_s:
                raise TimeoutError(f"job not done after {deadline_s} s")
            if not alive:
                hint = "" if results else f" (none finished a task: {MAIN_GUARD_HINT})"
                raise RuntimeError(f"every worker died; the job cannot finish{hint}")
            watched = {pipes[i]: i for i in alive} | {processes[i].sentinel: i for i in alive}
            for ready in wait(list(watched), timeout=1.0):
                index = watched[ready]
                if index not in alive:
                    continue
                if ready is processes[index].sentinel or not _deliver(pipes[index], results):
                    alive.discard(index)
                    report.killed_workers.append(index)
                    lost = holding.pop(index, None)
                    note(f"coordinator: worker {index} is gone")
                    if lost is not None and lost not in results:
                        pending.appendleft(lost)
                        report.reassigned_tasks.append(lost)
                        note(f"coordinator: task {lost} goes back in the queue")
                        for other in alive:  # an idle survivor takes it at once
                            if other not in holding:
                                hand_out(other)
                                break
                    continue
                finished = holding.pop(index)
                note(f"task {finished} done by worker {index}")
                hand_out(index)
    finally:
        for pipe in pipes:
            pipe.close()  # idle workers see EOF and exit
        for process in processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()
    report.answer = sum(results.values())
    report.seconds = time.perf_counter() - started
    return report


def _deliver(pipe, results: dict[int, int]) -> bool:
    """Read one result from a worker's pipe; False if the worker is gone."""
    try:
        reply = json.loads(pipe.recv_bytes())
    except (EOFError, OSError):
        return False
    results[int(reply["task"])] = int(reply["answer"])
    return True
