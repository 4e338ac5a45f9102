"""Aurora in real processes, broken on purpose: the runs the tests and the notebook share.

What it is: `crash_zones(cluster)` drives busy clients against a real Aurora cluster
(`Cluster.start(7, service="aurora")`) while it SIGKILLs one storage node, a whole zone,
a zone plus one more node, and the writer, restarting each, then judges the run:
linearizable (the checker), acknowledged transactions lost (final reads against the
history), transactions half-applied (read from a storage node's real ``redo.log``), and
which requests were refused while a zone plus one node was down.
`wait_open` and `durable_lsns` are the small helpers the notebook's panel uses.
What it must never do: sleep to synchronise (it waits on conditions), or judge a run from
anything but what the clients saw and what is on disk.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

from distlab.aurora.node import STORAGE, WRITER, AuroraClient, load_redo_log
from distlab.check import History, check_linearizable, lost_acknowledged_writes

__all__ = ["RealMeasurement", "RealRun", "crash_zones", "durable_lsns", "measure_real", "wait_open"]

ZONE_OF = {"n1": "a", "n2": "a", "n3": "b", "n4": "b", "n5": "c", "n6": "c"}
PAGES = ("p1", "p2", "p3", "p4")


def wait_open(cluster: Any, timeout_s: float = 30.0) -> bool:
    """Wait until the writer has recovered and takes writes: it is open, and has heard
    lately from a write quorum of storage nodes (recovery needs only a read quorum, so with
    W=6 the last node may answer a moment after the writer opens)."""

    def takes_writes() -> bool:
        fields = cluster.status()[WRITER].fields
        return fields.get("phase") == "open" and fields.get("alive", 0) >= fields.get(
            "write_quorum", 0
        )

    return bool(cluster.wait_for(takes_writes, timeout_s=timeout_s))


def durable_lsns(cluster: Any) -> dict[str, int | None]:
    """Each storage node's scl (None: down), and the writer's VDL under ``n0``."""
    status = cluster.status()
    lsns: dict[str, int | None] = {
        node: status[node].fields.get("scl") if status[node].alive else None for node in STORAGE
    }
    lsns[WRITER] = status[WRITER].fields.get("vdl") if status[WRITER].alive else None
    return lsns


@dataclass(frozen=True)
class RealRun:
    """The verdict of one real run."""

    faults: tuple[str, ...]
    linearizable: bool
    verdict: str
    acknowledged: int
    acknowledged_lost: int
    half_applied: int
    refused_with_zone_plus_one_down: int
    refusal: str


class _Clients:
    def __init__(self, cluster: Any, history: History, seed: int, count: int = 2) -> None:
        self.stop = threading.Event()
        self.acknowledged = 0
        self.refusals: list[str] = []
        self.counting_refusals = threading.Event()
        self.transactions: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(
                target=self._loop, args=(cluster, history, f"c{i}", seed + i), daemon=True
            )
            for i in range(count)
        ]

    def _loop(self, cluster: Any, history: History, name: str, seed: int) -> None:
        client = AuroraClient(cluster, history=history, client_id=name, timeout_s=1.0)
        rng = random.Random(seed)
        count = 0
        while not self.stop.is_set():
            count += 1
            try:
                if rng.random() < 0.6:
                    value = f"{name}.{count}"
                    pages = sorted(rng.sample(PAGES, rng.randint(1, 3)))
                    with self._lock:
                        self.transactions[value] = tuple(pages)
                    client.commit([(page, value) for page in pages])
                    with self._lock:
                        self.acknowledged += 1
                else:
                    client.read(rng.choice(PAGES))
            except Exception as error:  # refused or timed out: recorded in the history
                if self.counting_refusals.is_set() and "write quorum" in str(error):
                    with self._lock:
                        self.refusals.append(str(error))
                self.stop.wait(0.02)  # back off a little before the next request


def crash_zones(cluster: Any, seed: int = 0, between_s: float = 0.6) -> RealRun:
    """Busy clients through four failures (see the module docstring), then the verdict."""
    history = History()
    clients = _Clients(cluster, history, seed)
    rng = random.Random(seed)
    faults: list[str] = []
    if not wait_open(cluster):
        raise RuntimeError("the writer did not open")
    for thread in clients.threads:
        thread.start()

    def progress(extra: int = 5) -> None:
        target = clients.acknowledged + extra
        cluster.wait_for(lambda: clients.acknowledged >= target, timeout_s=between_s + 10)

    try:
        progress()
        node = rng.choice(STORAGE)
        faults.append(f"crash node {node}")
        cluster.crash(node)
        progress()
        cluster.restart(node)
        zone = rng.choice("abc")
        victims = [n for n in STORAGE if ZONE_OF[n] == zone]
        faults.append(f"crash zone {zone} ({' '.join(victims)})")
        for victim in victims:
            cluster.crash(victim)
        progress()
        extra = rng.choice([n for n in STORAGE if ZONE_OF[n] != zone])
        faults.append(f"crash one more node {extra}")
        clients.counting_refusals.set()
        cluster.crash(extra)
        cluster.wait_for(lambda: len(clients.refusals) >= 3, timeout_s=15)
        clients.counting_refusals.clear()
        for victim in (*victims, extra):
            cluster.restart(victim)
        progress()
        faults.append("crash writer n0")
        cluster.crash(WRITER)
        cluster.restart(WRITER)
        wait_open(cluster)
        progress()
    finally:
        clients.stop.set()
        for thread in clients.threads:
            thread.join(timeout=10)
    reader = AuroraClient(cluster, client_id="final", timeout_s=5.0)
    final = {page: reader.read(page) for page in PAGES}
    vdl = int(cluster.status()[WRITER].fields["vdl"])
    cluster.wait_for(lambda: all((durable_lsns(cluster)[n] or 0) >= vdl for n in STORAGE), 30)
    half = _half_applied(cluster, vdl, clients.transactions)
    result = check_linearizable(history, timeout_s=30.0)
    return RealRun(
        faults=tuple(faults),
        linearizable=result.linearizable is True,
        verdict=result.verdict,
        acknowledged=clients.acknowledged,
        acknowledged_lost=len(lost_acknowledged_writes(history, final)),
        half_applied=half,
        refused_with_zone_plus_one_down=len(clients.refusals),
        refusal=clients.refusals[0] if clients.refusals else "",
    )


def _half_applied(cluster: Any, vdl: int, transactions: dict[str, tuple[str, ...]]) -> int:
    """Transactions with some but not all of their records in the log up to the VDL, read
    from a storage node's ``redo.log`` on disk."""
    cluster.stop("n1")  # a clean stop, so the file is read whole and nobody writes to it
    records, _, _ = load_redo_log(cluster.data_dir("n1") / "redo.log")
    cluster.restart("n1")
    seen: dict[str, int] = {}
    for lsn in range(1, vdl + 1):
        record = records.get(lsn)
        if record is None:
            raise AssertionError(f"n1's redo.log misses LSN {lsn} below the VDL {vdl}")
        seen[record.value] = seen.get(record.value, 0) + 1  # a transaction writes one value
    return sum(1 for value, count in seen.items() if count != len(transactions.get(value, ())))


@dataclass(frozen=True)
class RealMeasurement:
    """Commits on a real cluster: latency percentiles (ms), throughput, fsyncs per commit."""

    design: str
    commits: int
    p50_ms: float
    p99_ms: float
    commits_per_s: float
    fsyncs_per_commit: float


def measure_real(
    cluster: Any, design: str, *, seconds: float = 2.0, clients: int = 2
) -> RealMeasurement:
    """Closed-loop clients commit one-page transactions for ``seconds``; measured here."""
    import time

    if not wait_open(cluster):
        raise RuntimeError("the writer did not open")
    warm = AuroraClient(cluster, client_id="warm-up", timeout_s=5.0)
    for i in range(20):  # connections open, pages cached: measure the steady state
        warm.commit([(PAGES[i % len(PAGES)], f"warm.{i}")])
    before = _fsyncs(cluster)
    latencies: list[float] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def loop(name: str) -> None:
        client = AuroraClient(cluster, client_id=name, timeout_s=5.0)
        count = 0
        while time.monotonic() < deadline:
            count += 1
            started = time.monotonic()
            client.commit([(PAGES[count % len(PAGES)], f"{name}.{count}")])
            with lock:
                latencies.append((time.monotonic() - started) * 1000)

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(f"m{i}",)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ordered = sorted(latencies)

    def pick(fraction: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(fraction * len(ordered)))], 2)

    return RealMeasurement(
        design=design,
        commits=len(ordered),
        p50_ms=pick(0.5),
        p99_ms=pick(0.99),
        commits_per_s=round(len(ordered) / elapsed, 1),
        fsyncs_per_commit=round((_fsyncs(cluster) - before) / max(len(ordered), 1), 2),
    )


def _fsyncs(cluster: Any) -> int:
    status = cluster.status()
    return sum(int(status[node].fields.get("fsyncs") or 0) for node in STORAGE)
