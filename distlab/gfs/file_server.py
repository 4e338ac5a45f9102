"""The baseline of the read-scaling experiment: one unreplicated file server.

What it is: `SingleFileServer`, a node program that stores one file (``Files.store``) and
serves byte ranges of it (``Files.read``) over the same rpc layer GFS uses -- no master, no
replicas, no checksums: what GFS is measured against (`distlab.gfs.scaling`).
What it must never do: import the rest of `distlab.gfs` (a node process may load this file by
its path). Where it fits: `measure_read_scaling` starts it in a one-node `Cluster`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distlab.cluster import NodeProgram

__all__ = ["SingleFileServer"]


class SingleFileServer(NodeProgram):
    """The baseline: one process serving byte ranges of one file, no replicas, no master."""

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.path = Path(ctx.data_dir) / "file"

    def services(self) -> dict[str, object]:
        return {"Files": self}

    def store(self, data: bytes) -> int:
        """Replace the file's contents (fsync'ed); returns its length."""
        with self.path.open("wb") as file:
            file.write(bytes(data))
            file.flush()
            os.fsync(file.fileno())
        return len(data)

    def read(self, offset: int, n: int) -> bytes:
        """Up to ``n`` bytes from ``offset``."""
        if not isinstance(offset, int) or not isinstance(n, int) or offset < 0 or n < 0:
            raise ValueError(f"offset and n are non-negative integers, got {offset!r}, {n!r}")
        with self.path.open("rb") as file:
            file.seek(offset)
            return file.read(n)
