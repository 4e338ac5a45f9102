"""The chapter's experiments on real processes: concurrent record appends through a crash.

What it is: `concurrent_appends(cluster)`: several client threads append self-describing
records to one file while a chunkserver is SIGKILLed and later restarted; then every
up-to-date replica of every chunk is fetched and judged. The `AppendRun` it returns says
what GFS promised and what it did not: every acknowledged record at its offset in every
up-to-date replica, records read back whole, the duplicates and padding retries left
behind, and the consistency report of the file (Table 1 measured).
What it must never do: decide what GFS would do; it only drives the client library and
looks at the replicas. Where it fits: tests/gfs/test_cluster.py and notebooks/06_gfs.ipynb.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from distlab.gfs.client import AppendResult, GFSClient
from distlab.gfs.consistency import ConsistencyReport, classify_file
from distlab.gfs.records import Record, encode_record, read_unique, scan_records

__all__ = ["AppendRun", "concurrent_appends"]


@dataclass(frozen=True)
class AppendRun:
    """The outcome of `concurrent_appends` (see the module docstring)."""

    acknowledged: int
    attempts: int
    failed: int  # appends a client gave up on (possibly applied somewhere)
    read_back: tuple[Record, ...]  # what the duplicate-dropping reader returns
    records_in_replica: int  # whole records in one replica, duplicates included
    missing: tuple[str, ...]  # acknowledged, yet not read back
    torn: tuple[str, ...]  # read back, yet not what was appended
    not_in_every_replica: tuple[str, ...]  # acknowledged, yet absent from some replica
    report: ConsistencyReport
    replicas: tuple[dict[str, bytes], ...]

    @property
    def duplicates(self) -> int:
        """Records the reader dropped because their id was already read."""
        return self.records_in_replica - len(self.read_back)


def concurrent_appends(
    cluster: Any,
    path: str = "/log",
    *,
    clients: int = 3,
    records_per_client: int = 40,
    crash: str | None = "n1",
    crash_after: int = 20,
    restart_after: int = 60,
    record_bytes: tuple[int, int] = (100, 900),
    seed: int = 0,
    timeout_s: float = 90.0,
) -> AppendRun:
    """Append ``clients * records_per_client`` records from ``clients`` threads; SIGKILL
    ``crash`` after ``crash_after`` acknowledgements and restart it after ``restart_after``;
    then judge every up-to-date replica."""
    reader = GFSClient(cluster, name="reader", seed=seed)
    try:
        reader.create(path)
    except Exception as error:
        if "already exists" not in str(error):
            raise
    acked: list[tuple[str, bytes, AppendResult]] = []
    appended: dict[str, bytes] = {}
    failures: list[str] = []
    lock = threading.Lock()

    def append_from(number: int) -> None:
        client = GFSClient(cluster, name=f"appender{number}", seed=seed * 100 + number)
        rng = random.Random(seed * 100 + number)
        for i in range(records_per_client):
            record_id = f"c{number}-{i}"
            payload = rng.randbytes(rng.randint(*record_bytes))
            with lock:
                appended[record_id] = payload
            try:
                result = client.append_record(path, record_id, payload)
            except Exception as error:  # gave up: may or may not be in the file
                with lock:
                    failures.append(f"{record_id}: {error}")
                continue
            with lock:
                acked.append((record_id, payload, result))

    threads = [threading.Thread(target=append_from, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    if crash is not None:
        cluster.wait_for(lambda: len(acked) + len(failures) >= crash_after, timeout_s)
        cluster.crash(crash)
        cluster.wait_for(lambda: len(acked) + len(failures) >= restart_after, timeout_s)
        cluster.restart(crash)
    for thread in threads:
        thread.join(timeout_s)
    attempts = sum(result.attempts for _, _, result in acked)
    return _judge(reader, path, acked, appended, len(failures), attempts)


def _judge(
    reader: GFSClient,
    path: str,
    acked: list[tuple[str, bytes, AppendResult]],
    appended: dict[str, bytes],
    failed: int,
    attempts: int,
) -> AppendRun:
    replicas = tuple(reader.replica_bytes(path))
    size = reader.config.chunk_size
    one_each = [next(iter(chunk.values()), b"") for chunk in replicas]
    read_back = tuple(read_unique(one_each, size))
    in_replica = sum(len(scan_records(data)) for data in one_each)
    found = {record.record_id: record for record in read_back}
    missing = tuple(sorted(rid for rid, _, _ in acked if rid not in found))
    torn = tuple(
        sorted(
            rid for rid, record in found.items()
            if appended.get(rid) is None or record.payload != appended[rid]
        )
    )  # fmt: skip
    absent = []
    for record_id, payload, result in acked:
        encoded = encode_record(record_id, payload)
        chunk = replicas[result.chunk_index] if result.chunk_index < len(replicas) else {}
        end = result.offset + len(encoded)
        if not chunk or any(data[result.offset : end] != encoded for data in chunk.values()):
            absent.append(record_id)
    return AppendRun(
        acknowledged=len(acked),
        attempts=attempts,
        failed=failed,
        read_back=read_back,
        records_in_replica=in_replica,
        missing=missing,
        torn=torn,
        not_in_every_replica=tuple(sorted(absent)),
        report=classify_file(replicas),
        replicas=replicas,
    )
