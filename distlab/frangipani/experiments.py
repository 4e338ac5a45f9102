"""What lock traffic costs: private files (cache hits) against one shared file ping-ponging.

`measure_sharing(cluster, ops)` runs, on a running Frangipani cluster with two workstations,
the same number of operations (a write then a read, alternating between the workstations)
twice in one run:

- **private**: each workstation works on its own file -- after the first lock, every
  operation is a cache hit and sends nothing;
- **shared**: both work on one file -- every switch of workstation is a revoke, and every
  revoke of a dirty block is a write-back (the log append, then the block and the release).

Started on a cluster with the teaching switch (``write_back_on_revoke=False``), the shared
row shows what the same ping-pong costs when revokes skip the write-back: the difference is
the write-back's price (and the broken run's reads are stale -- a baseline, never a choice).

It reports operations per second and, per operation, lock commands (acquire + release) and
all commands the workstations sent, and the write-backs a revoke forced. Compare the rows of
one run (ratios), not absolute numbers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

__all__ = ["SharingRow", "measure_sharing"]


@dataclass(frozen=True)
class SharingRow:
    workload: str
    ops: int
    ops_per_s: float
    lock_commands_per_op: float
    commands_per_op: float
    write_backs_per_op: float


def _counters(fs: Any, workstations: list[str]) -> tuple[int, int, int]:
    views = [fs.view(ws) for ws in workstations]
    return (
        sum(v["lock_commands"] for v in views),
        sum(v["commands"] for v in views),
        sum(v.get("write_backs", 0) for v in views),
    )


def measure_sharing(
    cluster: Any,
    ops: int = 100,
    workstations: list[str] | None = None,
    workloads: tuple[str, ...] = ("private", "shared"),
    label: str = "",
) -> list[SharingRow]:
    """Private files against one shared file on ``workstations`` (default: the last two).
    ``workloads`` picks the rows; ``label`` is appended to their names (e.g. " (no write-back)"
    for a cluster started with the teaching switch, whose revokes skip the write-back)."""
    if ops < 2:
        raise ValueError(f"ops must be at least 2, got {ops}")
    pair = workstations or list(cluster.names)[-2:]
    fs = cluster.client()
    for ws in pair:
        fs.create(ws, f"/private-{ws}", "")
    fs.create(pair[0], "/shared", "")
    for ws in pair:  # on the disk before anyone else looks (even without write-back)
        fs.sync(ws)
    rows = []
    for workload in workloads:
        if workload not in ("private", "shared"):
            raise ValueError(f"workload is 'private' or 'shared', not {workload!r}")
        before = _counters(fs, pair)
        start = time.perf_counter()
        for index in range(ops):
            ws = pair[index % 2]
            path = "/shared" if workload == "shared" else f"/private-{ws}"
            if index % 4 < 2:
                fs.write(ws, path, f"{ws}.{index}")
            else:
                fs.read(ws, path)
        elapsed = time.perf_counter() - start
        after = _counters(fs, pair)
        locks, commands, write_backs = (a - b for a, b in zip(after, before, strict=True))
        rows.append(
            SharingRow(
                workload + label,
                ops,
                ops / elapsed,
                locks / ops,
                commands / ops,
                write_backs / ops,
            )
        )
    return rows
