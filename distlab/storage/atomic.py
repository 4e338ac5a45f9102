"""Atomic files and snapshots: a file is either the old version or the new one, never half.

The recipe (used by every database and by Raft's snapshots): write the new contents to a
temporary file in the same directory, fsync it, rename it over the old name (rename is atomic
within one file system), then fsync the directory so the rename itself is durable.

This module must never leave a half-written file under the final name, and never return a
snapshot whose checksum does not match. It depends on nothing else in distlab; the durable
log (:mod:`distlab.storage.log`) and the cluster's node programs build on it.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from pathlib import Path

from distlab.storage.errors import CorruptLogError

__all__ = ["fsync_dir", "read_snapshot", "write_atomic", "write_snapshot"]

# Snapshot file: magic, version, payload length, crc32(payload), then the payload.
_SNAP_MAGIC = b"DSNP"
_SNAP_VERSION = 1
_SNAP_HEADER = struct.Struct(">4sHQI")


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """fsync a directory, making a rename or a newly created file inside it durable."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably.

    Temp file in the same directory + fsync + rename + fsync(directory): after a crash at any
    moment, ``path`` holds either its previous contents or exactly ``data``.
    """
    target = Path(path)
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    os.close(fd)
    os.replace(temp, target)
    fsync_dir(target.parent)


def write_snapshot(path: str | os.PathLike[str], data: bytes) -> None:
    """Atomically write ``data`` with a header (magic, version, length, crc32)."""
    header = _SNAP_HEADER.pack(_SNAP_MAGIC, _SNAP_VERSION, len(data), zlib.crc32(data))
    write_atomic(path, header + bytes(data))


def read_snapshot(path: str | os.PathLike[str]) -> bytes | None:
    """Return the payload written by :func:`write_snapshot`, or None if there is no file.

    Raises :class:`CorruptLogError` if the file is not a snapshot or its checksum fails: a
    snapshot is only ever replaced atomically, so a bad one means real corruption.
    """
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return None
    if len(raw) < _SNAP_HEADER.size:
        raise CorruptLogError(path, 0, f"snapshot header is {len(raw)} bytes, too short")
    magic, version, length, crc = _SNAP_HEADER.unpack_from(raw)
    if magic != _SNAP_MAGIC:
        raise CorruptLogError(path, 0, f"bad magic {magic!r}, not a distlab snapshot")
    if version != _SNAP_VERSION:
        raise CorruptLogError(path, 4, f"unsupported snapshot version {version}")
    payload = raw[_SNAP_HEADER.size :]
    if len(payload) != length:
        raise CorruptLogError(
            path, _SNAP_HEADER.size, f"payload is {len(payload)} bytes, header says {length}"
        )
    if zlib.crc32(payload) != crc:
        raise CorruptLogError(path, _SNAP_HEADER.size, "snapshot checksum mismatch")
    return payload
