"""Atomic files and checksummed snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distlab.storage import CorruptLogError, read_snapshot, write_atomic, write_snapshot


def test_write_atomic_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "state"
    write_atomic(target, b"old")
    write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["state"]


def test_missing_snapshot_is_none(tmp_path: Path) -> None:
    assert read_snapshot(tmp_path / "nothing") is None


@given(st.binary(max_size=2000))
def test_snapshot_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("snap") / "snapshot"
    write_snapshot(path, data)
    assert read_snapshot(path) == data


def test_every_flipped_byte_in_a_snapshot_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "snapshot"
    write_snapshot(path, b"the state machine at index 42")
    image = path.read_bytes()
    for position in range(len(image)):
        damaged = bytearray(image)
        damaged[position] ^= 0x10
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptLogError, match=str(path)):
            read_snapshot(path)
    for cut in range(len(image)):
        path.write_bytes(image[:cut])
        with pytest.raises(CorruptLogError):
            read_snapshot(path)
