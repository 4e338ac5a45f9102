"""GFS's consistency model measured: which regions of a file are defined, consistent, or not.

What it is: the paper's Table 1 (§2.7.1) as a measurement rather than a claim. Given the
bytes every replica holds for each chunk of a file, `classify_chunk` cuts the chunk into
regions:

- **inconsistent** -- the replicas differ (or some are shorter): two readers may see
  different data, depending on the replica they happen to read;
- **defined** -- every replica holds the same bytes *and* they are one mutation's data
  whole (a record whose id and checksum check out);
- **consistent** (but undefined) -- every replica holds the same bytes, yet they are no
  single mutation's data: the padding record append leaves (``padding``), or fragments of
  concurrent writes mingled together.

`classify_file` adds the chunks up into a `ConsistencyReport` (bytes of each kind); the
chapter fills Table 1 with it after serial writes, concurrent writes and record appends
under a crash.
What it must never do: decide by looking at one replica only; a region is consistent only
if every replica agrees on it. Where it fits: over any replicas' bytes -- from real
chunkservers (`GFSClient.replica_bytes`) or from the simulator's disks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from distlab.gfs.records import scan_records

__all__ = ["ConsistencyReport", "Region", "classify_chunk", "classify_file"]

KINDS = ("defined", "consistent", "padding", "inconsistent")
_MIN_AGREEING = 16  # bytes


@dataclass(frozen=True)
class Region:
    """Bytes ``start`` up to ``end`` of a chunk, all of one kind (see the module docstring)."""

    start: int
    end: int
    kind: str  # "defined" | "consistent" | "padding" | "inconsistent"

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class ConsistencyReport:
    """A file's bytes by kind, summed over its chunks, and the regions of each chunk."""

    defined: int
    consistent: int
    padding: int
    inconsistent: int
    chunks: tuple[tuple[Region, ...], ...]

    def row(self) -> dict[str, int]:
        """The four byte counts, for a table."""
        return {kind: getattr(self, kind) for kind in KINDS}

    def verdict(self) -> str:
        """The paper's words for the file: "defined", "consistent but undefined",
        "defined interspersed with inconsistent", or "inconsistent"."""
        if self.inconsistent and self.defined:
            return "defined interspersed with inconsistent"
        if self.inconsistent:
            return "inconsistent"
        if self.consistent:
            return "consistent but undefined"
        return "defined"


def _agreement_runs(replicas: Sequence[bytes]) -> list[tuple[int, int, bool]]:
    """(start, end, all agree) runs covering the longest replica."""
    longest = max(len(data) for data in replicas)
    shortest = min(len(data) for data in replicas)
    runs: list[tuple[int, int, bool]] = []

    def add(start: int, end: int, agree: bool) -> None:
        if start >= end:
            return
        if runs and runs[-1][2] == agree and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end, agree)
        else:
            runs.append((start, end, agree))

    first = replicas[0]
    block = 256
    for start in range(0, shortest, block):  # compare a block at a time, bytes only if needed
        end = min(start + block, shortest)
        if all(data[start:end] == first[start:end] for data in replicas[1:]):
            add(start, end, True)
            continue
        for i in range(start, end):
            add(i, i + 1, all(data[i] == first[i] for data in replicas[1:]))
    add(shortest, longest, False)  # bytes some replicas do not have at all
    # A few bytes that happen to agree inside a differing region (a zero in a header and a
    # zero of a hole) are no region of their own: fold them into the inconsistent one.
    merged: list[tuple[int, int, bool]] = []
    for i, (start, end, agree) in enumerate(runs):
        next_differs = i + 1 < len(runs) and not runs[i + 1][2]
        if agree and end - start < _MIN_AGREEING and merged and not merged[-1][2] and next_differs:
            agree = False
        if merged and merged[-1][2] == agree:
            merged[-1] = (merged[-1][0], end, agree)
        else:
            merged.append((start, end, agree))
    return merged


def classify_chunk(replicas: Mapping[str, bytes] | Sequence[bytes]) -> tuple[Region, ...]:
    """The regions of one chunk, given every replica's bytes (by replica name or a list)."""
    copies = [
        bytes(data) for data in (replicas.values() if isinstance(replicas, Mapping) else replicas)
    ]
    if not copies or max(len(data) for data in copies) == 0:
        return ()
    regions: list[Region] = []
    for start, end, agree in _agreement_runs(copies):
        if not agree:
            regions.append(Region(start, end, "inconsistent"))
            continue
        data = copies[0][start:end]
        position = start
        for record in scan_records(data, start):  # whole records inside the agreeing run
            regions.extend(_unrecognised(copies[0], position, record.offset))
            regions.append(Region(record.offset, record.end, "defined"))
            position = record.end
        regions.extend(_unrecognised(copies[0], position, end))
    return tuple(regions)


def _unrecognised(data: bytes, start: int, end: int) -> list[Region]:
    """Agreed bytes that are no whole record: zeros are padding, the rest undefined."""
    if start >= end:
        return []
    kind = "padding" if data[start:end].count(0) == end - start else "consistent"
    return [Region(start, end, kind)]


def classify_file(chunks: Sequence[Mapping[str, bytes] | Sequence[bytes]]) -> ConsistencyReport:
    """Classify every chunk of a file (each given as its replicas' bytes) and add them up."""
    regions = tuple(classify_chunk(replicas) for replicas in chunks)
    totals = dict.fromkeys(KINDS, 0)
    for chunk in regions:
        for region in chunk:
            totals[region.kind] += region.size
    return ConsistencyReport(**totals, chunks=regions)
