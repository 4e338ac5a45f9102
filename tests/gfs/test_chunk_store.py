"""A chunkserver's disk: chunk files, a checksum per block checked on every read."""

from __future__ import annotations

from pathlib import Path

import pytest

from distlab.gfs import ChunkStore, CorruptChunk, GFSConfig, corrupt_block
from distlab.gfs.chunkserver import ChunkserverReady, ChunkWrite

CONFIG = GFSConfig(chunk_size=1024, block_size=128)


def test_what_was_written_reads_back_and_survives_a_restart(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, CONFIG)
    writes = (ChunkWrite(3, 0, b"a" * 300), ChunkWrite(3, 300, b"b" * 50))
    store.persist(ChunkserverReady(writes=writes, versions=((3, 2),)))
    assert store.read(3, 290, 20) == b"a" * 10 + b"b" * 10
    again = ChunkStore(tmp_path, CONFIG)
    assert {h: (m.version, m.length) for h, m in again.scan().items()} == {3: (2, 350)}
    assert again.read(3, 0, 1000) == b"a" * 300 + b"b" * 50


def test_a_flipped_byte_is_caught_by_its_blocks_checksum(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, CONFIG)
    store.write(5, 0, bytes(range(256)) * 2)
    corrupt_block(tmp_path, 5, 300)
    assert store.read(5, 0, 128) == bytes(range(128))  # other blocks are still fine
    with pytest.raises(CorruptChunk, match="block 2"):
        store.read(5, 256, 10)


def test_a_write_past_the_end_leaves_a_hole_of_zeros(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, CONFIG)
    store.write(1, 0, b"x" * 10)
    store.write(1, 200, b"y")
    assert store.read(1, 0, 1000) == b"x" * 10 + bytes(190) + b"y"


def test_delete_removes_the_chunk_and_garbage_files_are_ignored(tmp_path: Path) -> None:
    store = ChunkStore(tmp_path, CONFIG)
    store.persist(ChunkserverReady(writes=(ChunkWrite(7, 0, b"z"),), versions=((7, 1),)))
    (tmp_path / "junk.version").write_text("not a chunk")
    store.delete(7)
    assert store.scan() == {}
