"""How GFS reads scale: aggregate throughput with 1, 2, 3 chunkservers against one file server.

What it is: `measure_read_scaling`, the chapter's performance experiment (paper §6.1.1). A
file of ``chunks`` chunks is written once; then ``clients`` client threads read different
chunks over and over for ``seconds`` seconds, from a GFS cluster with 1, 2 and 3
chunkservers (every chunk on every chunkserver, so a reader may use any of them) and, in
the same run, from a baseline: one unreplicated file server (`SingleFileServer`, a node
that reads byte ranges of one local file over the same rpc layer). It also counts the
master's share of the work: calls to the master per megabyte read -- small, because
clients cache chunk locations and data never passes through the master.
What it must never do: claim more than it measured; the report names the machine's CPU
count and load. Where it fits: benchmarks/gfs_bench.py and notebooks/06_gfs.ipynb.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from distlab.cluster import Cluster
from distlab.gfs.client import GFSClient
from distlab.gfs.file_server import SingleFileServer

__all__ = ["ReadPoint", "ScalingReport", "SingleFileServer", "measure_read_scaling"]


@dataclass(frozen=True)
class ReadPoint:
    """One configuration's figures."""

    label: str
    chunkservers: int
    mb_per_s: float
    master_calls_per_mb: float


@dataclass(frozen=True)
class ScalingReport:
    """The points, the baseline among them (chunkservers 0), and the machine."""

    points: tuple[ReadPoint, ...]
    clients: int
    seconds: float
    cpu_count: int
    load: float

    @property
    def baseline(self) -> ReadPoint:
        return next(point for point in self.points if point.chunkservers == 0)

    def plot(self, ax: Any = None) -> Any:
        """A bar chart of MB/s per setup, the baseline in grey (matplotlib, imported here)."""
        import matplotlib.pyplot as plt

        if ax is None:
            _figure, ax = plt.subplots(figsize=(6, 2.6))
        labels = [point.label.replace(" (baseline)", "\n(baseline)") for point in self.points]
        colours = ["#9e9e9e" if point.chunkservers == 0 else "#1e88e5" for point in self.points]
        ax.bar(labels, [point.mb_per_s for point in self.points], color=colours)
        ax.set_ylabel("MB/s read (all clients)")
        ax.set_title(f"{self.clients} clients, {self.cpu_count} CPUs (load {self.load:.1f})")
        ax.tick_params(axis="x", labelsize=8)
        return ax

    def table(self) -> str:
        """The figures side by side, as ratios to the baseline measured in the same run."""
        lines = [f"{'setup':<28}{'MB/s':>8}{'× baseline':>12}{'master calls/MB':>17}"]
        for point in self.points:
            ratio = point.mb_per_s / self.baseline.mb_per_s
            calls = "—" if point.chunkservers == 0 else f"{point.master_calls_per_mb:.2f}"
            lines.append(f"{point.label:<28}{point.mb_per_s:>8.1f}{ratio:>12.2f}{calls:>17}")
        return "\n".join(lines)


def _read_for(seconds: float, clients: int, read_one: Any) -> int:
    """Run ``clients`` threads calling ``read_one(client_number, i)`` for ``seconds``;
    returns the bytes read."""
    stop = time.monotonic() + seconds
    totals = [0] * clients

    def loop(number: int) -> None:
        i = 0
        while time.monotonic() < stop:
            totals[number] += len(read_one(number, i))
            i += 1

    threads = [threading.Thread(target=loop, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(totals)


def measure_read_scaling(
    chunkservers: tuple[int, ...] = (1, 2, 3),
    *,
    clients: int = 4,
    chunks: int = 12,
    seconds: float = 2.0,
    seed: int = 0,
) -> ScalingReport:
    """Measure the baseline and GFS with each number of chunkservers (see the module
    docstring)."""
    chunk_size = 64 * 1024
    data = bytes((i * 7 + i // 251) % 256 for i in range(chunks * chunk_size))
    points = []
    with Cluster.start(1, program=SingleFileServer, seed=seed) as cluster:
        rpcs = [cluster.client("n0", client_name=f"reader{n}") for n in range(clients)]
        rpcs[0].call("Files.store", data, timeout=30)

        def read_plain(number: int, i: int) -> bytes:
            index = (number + i * clients) % chunks
            return rpcs[number].call("Files.read", index * chunk_size, chunk_size, timeout=10)

        read = _read_for(seconds, clients, read_plain)
        points.append(ReadPoint("one file server (baseline)", 0, read / seconds / 1e6, 0.0))
    for count in chunkservers:
        with Cluster.start(1 + count, service="gfs", seed=seed, replicas=count) as cluster:
            writer = GFSClient(cluster, name="writer")
            writer.create("/data")
            writer.write("/data", 0, data)
            readers = [GFSClient(cluster, name=f"reader{n}", seed=n) for n in range(clients)]
            for reader in readers:  # warm each client's location cache, as a running job has
                reader.chunk_count("/data")

            def read_gfs(number: int, i: int, readers: list[GFSClient] = readers) -> bytes:
                return readers[number].read_chunk("/data", (number + i * clients) % chunks)

            before = _master_requests(cluster)
            read = _read_for(seconds, clients, read_gfs)
            calls = _master_requests(cluster) - before
            label = f"GFS, {count} chunkserver{'s' if count > 1 else ''}"
            points.append(ReadPoint(label, count, read / seconds / 1e6, calls / (read / 1e6)))
    return ScalingReport(tuple(points), clients, seconds, os.cpu_count() or 1, os.getloadavg()[0])


def _master_requests(cluster: Cluster) -> int:
    return int(cluster.status(timeout_s=5)["n0"].fields.get("client_requests", 0))
