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
from distlab.gfs.messages import CODEC
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


# -- the paper's Table 1, measured ---------------------------------------------------------------


@dataclass(frozen=True)
class TableRow:
    """One cell of Table 1: an operation, how it went, and what the replicas show."""

    operation: str  # "write" | "record append"
    case: str  # "serial success" | "concurrent successes" | "failure"
    report: ConsistencyReport


class _InterleavingClient(GFSClient):
    """Writes one piece of a multi-chunk write at a time, so two writers' pieces can be
    interleaved in a chosen order -- one order concurrency may produce."""

    def write_piece(self, path: str, index: int, data: bytes) -> None:
        self._write_piece(path, index, 0, data)


class _LossyPushClient(GFSClient):
    """Its next mutation's data reaches every replica but ``lose_at`` (as if that replica's
    buffer had dropped it): the primary and the others apply it, ``lose_at`` cannot, and the
    client is told it failed."""

    def __init__(self, cluster: Any, lose_at: str, **options: Any) -> None:
        super().__init__(cluster, **options)
        self.lose_at: str | None = lose_at

    def _mutate(self, locations: Any, data: bytes, kind: str, extra: tuple[Any, ...]) -> Any:
        if self.lose_at is None or self.lose_at not in locations.replicas:
            return super()._mutate(locations, data, kind, extra)
        lose_at, self.lose_at = self.lose_at, None
        number = next(self._ids)
        data_id = f"{self.name}-{self._token}-{number}"
        chain = [node for node in locations.replicas if node != lose_at]
        self._call(chain[0], "push", data_id, data, chain[1:])
        request_id = f"{data_id}@{locations.handle}"
        args = (request_id, locations.handle, locations.version, *extra, data_id)
        return CODEC.decode(self._call(locations.primary, kind, *args, timeout=10.0))


def consistency_table(cluster: Any) -> list[TableRow]:
    """Fill the paper's Table 1 by measurement: each case on its own file, then every
    up-to-date replica of the file compared (`classify_file`)."""
    size = GFSClient(cluster).config.chunk_size
    writer = GFSClient(cluster, name="writer")
    rows = []

    # write, serial success: one writer, records one after another
    writer.create("/serial")
    position = 0
    for i in range(4):
        record = encode_record(f"w{i}", bytes([i]) * 300)
        writer.write("/serial", position, record)
        position += len(record)
    rows.append(TableRow("write", "serial success", classify_file(writer.replica_bytes("/serial"))))

    # write, concurrent successes: two writers write one record each across a chunk
    # boundary, at the same offset; their pieces interleave (A's first chunk, B's second)
    a, b = (_InterleavingClient(cluster, name=name) for name in ("writer-a", "writer-b"))
    a.create("/concurrent")
    record_a = encode_record("a", b"A" * (size + 100))
    record_b = encode_record("b", b"B" * (size + 100))
    b.write_piece("/concurrent", 0, record_b[:size])
    a.write_piece("/concurrent", 0, record_a[:size])
    a.write_piece("/concurrent", 1, record_a[size:])
    b.write_piece("/concurrent", 1, record_b[size:])
    report = classify_file(a.replica_bytes("/concurrent"))
    rows.append(TableRow("write", "concurrent successes", report))

    # write, failure: one replica never got the data; the client was told "failed"
    writer.create("/failed")
    replicas = _replicas_of(writer, "/failed")
    lossy = _LossyPushClient(cluster, lose_at=replicas[-1], name="lossy", timeout_s=5.0)
    result = lossy._mutate(
        lossy._locate("/failed", 0, for_mutation=True, allocate=True),
        encode_record("f", b"F" * 500),
        "write",
        (0,),
    )
    assert not result.ok, "the replica without the data cannot have applied it"
    rows.append(TableRow("write", "failure", classify_file(writer.replica_bytes("/failed"))))

    # record append, concurrent successes: three appenders, small records
    appenders = [GFSClient(cluster, name=f"app{i}") for i in range(3)]
    appenders[0].create("/appends")
    threads = [
        threading.Thread(
            target=lambda c=client, n=n: [
                c.append_record("/appends", f"{n}-{i}", bytes([n]) * 700) for i in range(8)
            ]
        )
        for n, client in enumerate(appenders)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    report = classify_file(writer.replica_bytes("/appends"))
    rows.append(TableRow("record append", "concurrent successes", report))

    # record append, a failure then the client's retry
    writer.create("/retried")
    writer.append_record("/retried", "first", b"1" * 300)
    replicas = _replicas_of(writer, "/retried")
    lossy = _LossyPushClient(cluster, lose_at=replicas[-1], name="lossy-append")
    lossy.append_record("/retried", "second", b"2" * 300)  # fails once, then succeeds
    writer.append_record("/retried", "third", b"3" * 300)
    report = classify_file(writer.replica_bytes("/retried"))
    rows.append(TableRow("record append", "failure, then the retry", report))
    return rows


def _replicas_of(client: GFSClient, path: str) -> tuple[str, ...]:
    """The replicas of the file's last chunk (creating the first chunk if need be)."""
    index = max(client.chunk_count(path) - 1, 0)
    return client._retrying(
        "locate", lambda: client._locate(path, index, for_mutation=True, allocate=True)
    ).replicas


# -- a stale replica -----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaleDemo:
    """What happened to a chunkserver that was down while its chunk was mutated."""

    victim: str
    version_before: int  # the chunk's version when the victim crashed
    version_after: int  # after the mutations it missed
    found_stale: bool  # the master saw the old version in the victim's heartbeat
    handed_out_while_stale: bool  # did the master ever list it? (must be False)
    read_refused: str  # what the victim said to a client asking for the current version
    replicas_restored: bool  # re-replication brought the chunk back to its replica count
    records: int  # records read back in the end


def stale_replica_demo(cluster: Any, path: str = "/stale", timeout_s: float = 30.0) -> StaleDemo:
    """Crash a replica of a chunk, append while it is down, restart it; watch the master
    never hand it out, have it delete its stale copy, and re-replicate the chunk."""
    client = GFSClient(cluster, name="stale-demo")
    client.create(path)
    client.append_record(path, "before", b"b" * 200)
    (row,) = [r for r in _table(cluster) if r["path"] == path]
    victim, version_before = row["replicas"][0], row["version"]
    stale_before = _master_count(cluster, "stale_replicas_found")
    cluster.crash(victim)
    client.append_record(path, "while-down", b"w" * 200)  # needs a new lease: a new version
    cluster.restart(victim)
    handed_out = []

    def stale_seen() -> bool:
        statuses = cluster.status()
        master_row = next(r for r in statuses["n0"].fields.get("table", []) if r["path"] == path)
        held = statuses[victim].fields.get("held", {}).get(str(row["handle"]))
        listed = held is not None and victim in master_row["replicas"]
        if listed and held[0] != master_row["version"]:
            handed_out.append(held[0])
        return _master_count(cluster, "stale_replicas_found") > stale_before

    found_stale = cluster.wait_for(stale_seen, timeout_s)
    version_after = next(r for r in _table(cluster) if r["path"] == path)["version"]
    try:
        client.replica_at(victim, row["handle"])
        refused = ""
        rpc = cluster.client(victim, client_name="stale-demo-read")
        rpc.call("GFS.read", row["handle"], version_after, 0, 100, timeout=5)
    except Exception as error:
        refused = str(error).split(": ", 1)[-1]
    wanted = client.config.replicas
    restored = cluster.wait_for(
        lambda: len(next(r for r in _table(cluster) if r["path"] == path)["replicas"]) >= wanted,
        timeout_s,
    )
    return StaleDemo(
        victim=victim,
        version_before=version_before,
        version_after=version_after,
        found_stale=found_stale,
        handed_out_while_stale=bool(handed_out),
        read_refused=refused,
        replicas_restored=restored,
        records=len(client.read_records(path)),
    )


def _master_count(cluster: Any, name: str) -> int:
    return int(cluster.status()["n0"].fields.get(name, 0))


def _table(cluster: Any) -> list[dict[str, Any]]:
    return list(cluster.status()["n0"].fields.get("table", []))
