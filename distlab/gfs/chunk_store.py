"""A chunkserver's disk: one file per chunk, a checksum per block, checked on every read.

What it is: `ChunkStore(directory, config)`, where a real chunkserver keeps its chunks
(paper §5.2): ``<handle>.chunk`` holds the bytes, ``<handle>.sums`` a CRC-32 for each
``block_size`` block, ``<handle>.version`` the chunk's version number. Every write is
fsync'ed before it returns (the core's Ready is persisted before its messages leave); every
read verifies the checksums of the blocks it touches and raises `CorruptChunk` naming the
block if one does not match -- the chunkserver then drops its copy and tells the master,
and the client reads another replica. A chunkserver never passes corrupt bytes on.
`corrupt_block` flips a byte on disk the way a failing disk would, for tests and the
chapter. A SIGKILL between writing a block and its checksum leaves the two disagreeing; the
mutation was never acknowledged (that happens after both), and the next read treats the
block as corrupt: the copy is dropped and re-replicated, as for any bad block.

What it must never do: decide anything about versions or leases (the core does), or
return bytes whose checksum it did not check. Where it fits: `distlab.gfs.node` persists
`ChunkserverReady` here and serves reads from it; the simulator keeps chunks in memory.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from pathlib import Path

from distlab.gfs.chunkserver import ChunkMeta, ChunkserverReady
from distlab.gfs.messages import GFSConfig
from distlab.storage import read_snapshot, write_snapshot

__all__ = ["ChunkStore", "CorruptChunk", "corrupt_block"]


class CorruptChunk(Exception):
    """A block's checksum does not match its bytes: the disk lost or changed them."""

    def __init__(self, handle: int, block: int) -> None:
        super().__init__(f"chunk {handle}: block {block} fails its checksum")
        self.handle = handle
        self.block = block


class ChunkStore:
    """The chunk files of one chunkserver; see the module docstring."""

    def __init__(self, directory: str | os.PathLike[str], config: GFSConfig) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.config = config

    def _path(self, handle: int, suffix: str) -> Path:
        return self.directory / f"{handle}.{suffix}"

    def scan(self) -> dict[int, ChunkMeta]:
        """The chunks on disk (after a restart): version and length of each."""
        found = {}
        for path in self.directory.glob("*.version"):
            try:
                handle = int(path.stem)
                version = int(read_snapshot(path) or b"0")
            except ValueError:
                continue  # not ours, or a torn name: ignore it, never crash on it
            data = self._path(handle, "chunk")
            length = data.stat().st_size if data.exists() else 0
            found[handle] = ChunkMeta(version, min(length, self.config.chunk_size))
        return found

    def persist(self, ready: ChunkserverReady) -> None:
        """Make a Ready's deletes, writes and versions durable, in that order."""
        for handle in ready.deletes:
            self.delete(handle)
        for write in ready.writes:
            self.write(write.handle, write.offset, write.data)
        for handle, version in ready.versions:
            write_snapshot(self._path(handle, "version"), str(version).encode())

    def write(self, handle: int, offset: int, data: bytes) -> None:
        """Write and fsync ``data`` at ``offset``, then the checksums of the blocks touched."""
        path = self._path(handle, "chunk")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            before = os.fstat(fd).st_size
            if offset > before:  # a hole: a secondary that missed a failed mutation
                os.pwrite(fd, bytes(offset - before), before)
            if data:
                os.pwrite(fd, data, offset)
            os.fsync(fd)
            block = self.config.block_size
            first = min(offset, before) // block  # from the first byte that changed
            last = max(first, (offset + len(data) - 1) // block) if data else first
            sums = self._sums(handle)
            for index in range(first, last + 1):
                sums[index] = zlib.crc32(os.pread(fd, block, index * block))
        finally:
            os.close(fd)
        self._write_sums(handle, sums)

    def read(self, handle: int, offset: int, n: int) -> bytes:
        """Bytes ``offset`` up to ``offset + n``, every block checked (CorruptChunk if not)."""
        block = self.config.block_size
        with self._path(handle, "chunk").open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            end = min(size, offset + n)
            if offset >= end:
                return b""
            first = offset // block  # read whole blocks: a checksum covers a whole block
            file.seek(first * block)
            data = file.read(((end - 1) // block + 1 - first) * block)
        sums = self._sums(handle)
        for i in range(0, len(data), block):
            if sums.get(first + i // block) != zlib.crc32(data[i : i + block]):
                raise CorruptChunk(handle, first + i // block)
        return data[offset - first * block : end - first * block]

    def delete(self, handle: int) -> None:
        """Remove the chunk's files (the version file first: no half-chunk survives it)."""
        for suffix in ("version", "sums", "chunk"):
            with contextlib.suppress(FileNotFoundError):
                self._path(handle, suffix).unlink()

    def _sums(self, handle: int) -> dict[int, int]:
        raw = read_snapshot(self._path(handle, "sums")) or b""
        count = len(raw) // 4
        return dict(enumerate(struct.unpack(f">{count}I", raw[: count * 4])))

    def _write_sums(self, handle: int, sums: dict[int, int]) -> None:
        count = max(sums) + 1 if sums else 0
        packed = struct.pack(f">{count}I", *(sums.get(i, 0) for i in range(count)))
        write_snapshot(self._path(handle, "sums"), packed)


def corrupt_block(directory: str | os.PathLike[str], handle: int, offset: int) -> None:
    """Flip the bits of one byte of a chunk file, as a failing disk would (for experiments)."""
    path = Path(directory) / f"{handle}.chunk"
    with path.open("r+b") as file:
        file.seek(offset)
        byte = file.read(1)
        if not byte:
            raise ValueError(f"chunk {handle} has no byte at offset {offset}")
        file.seek(offset)
        file.write(bytes([byte[0] ^ 0xFF]))
        file.flush()
        os.fsync(file.fileno())
