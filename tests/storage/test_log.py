"""DurableLog: round trips, torn tails at every byte, corruption in the middle, a model check."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distlab.storage import CorruptLogError, DurableLog, TornTailWarning
from distlab.storage.log import HEADER_SIZE, RECORD_OVERHEAD

RECORDS = [b"", b"a", b"hello world", bytes(range(256)), b"x" * 100]


def make_log(path: Path, records: list[bytes]) -> list[int]:
    """Write and sync ``records``; return each record's [start, end) boundaries."""
    with DurableLog(path) as log:
        log.extend(records)
        log.sync()
    ends = [HEADER_SIZE]
    for record in records:
        ends.append(ends[-1] + RECORD_OVERHEAD + len(record))
    return ends


def test_round_trip_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = DurableLog(path)
    assert [log.append(r) for r in RECORDS] == list(range(len(RECORDS)))
    assert list(log.records()) == RECORDS  # unsynced records are readable
    log.sync()
    log.close()
    reopened = DurableLog(path)
    assert list(reopened.records()) == RECORDS
    assert reopened[3] == RECORDS[3]
    assert reopened.next_index == len(RECORDS)
    reopened.close()


def test_unsynced_records_are_lost_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = DurableLog(path)
    log.append(b"durable")
    log.sync()
    log.append(b"volatile")
    # A crash: the object is abandoned without close(); only synced bytes are on disk.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no torn tail either: nothing was half-written
        assert list(DurableLog(path).records()) == [b"durable"]
    assert log.statistics().unsynced_records == 1


def test_truncate_at_every_byte_keeps_every_complete_record(tmp_path: Path) -> None:
    source = tmp_path / "full"
    ends = make_log(source, RECORDS)
    image = source.read_bytes()
    assert len(image) == ends[-1]
    for cut in range(len(image) + 1):
        path = tmp_path / f"cut{cut}"
        path.write_bytes(image[:cut])
        if 0 < cut < HEADER_SIZE:
            # The header is written atomically at creation, so a short one is corruption.
            with pytest.raises(CorruptLogError, match="shorter than the header"):
                DurableLog(path)
            continue
        complete = sum(1 for end in ends[1:] if end <= cut)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            log = DurableLog(path)
        torn = [w for w in caught if issubclass(w.category, TornTailWarning)]
        assert bool(torn) == (cut not in ends and cut != 0), cut
        assert list(log.records()) == RECORDS[:complete], cut
        # The torn tail is physically gone: new appends follow the last good record.
        log.append(b"after")
        log.sync()
        log.close()
        assert list(DurableLog(path).records()) == [*RECORDS[:complete], b"after"], cut


@pytest.mark.parametrize("record", range(len(RECORDS) - 1))
def test_flipped_byte_mid_log_raises_naming_file_and_offset(tmp_path: Path, record: int) -> None:
    source = tmp_path / "full"
    ends = make_log(source, RECORDS)
    image = source.read_bytes()
    for position in range(ends[record], ends[record + 1]):
        damaged = bytearray(image)
        damaged[position] ^= 0x40
        path = tmp_path / "damaged"
        path.write_bytes(bytes(damaged))
        with pytest.raises(CorruptLogError) as error:
            DurableLog(path)
        assert error.value.offset == ends[record], position
        assert str(path) in str(error.value)
        assert f"offset {ends[record]}" in str(error.value)


def test_flipped_header_byte_raises(tmp_path: Path) -> None:
    source = tmp_path / "full"
    make_log(source, RECORDS)
    image = source.read_bytes()
    for position in range(HEADER_SIZE):
        damaged = bytearray(image)
        damaged[position] ^= 0x01
        (tmp_path / "damaged").write_bytes(bytes(damaged))
        with pytest.raises(CorruptLogError):
            DurableLog(tmp_path / "damaged")


def test_damage_in_last_record_is_a_torn_tail(tmp_path: Path) -> None:
    # Nothing valid follows, so recovery cannot tell a flip from a torn write: drop + warn.
    source = tmp_path / "full"
    ends = make_log(source, RECORDS)
    damaged = bytearray(source.read_bytes())
    damaged[ends[-2] + RECORD_OVERHEAD + 5] ^= 0xFF
    source.write_bytes(bytes(damaged))
    with pytest.warns(TornTailWarning, match="torn tail"):
        log = DurableLog(source)
    assert list(log.records()) == RECORDS[:-1]
    log.close()


def test_rot_after_open_is_detected_on_read(tmp_path: Path) -> None:
    path = tmp_path / "log"
    ends = make_log(path, RECORDS)
    log = DurableLog(path)
    with open(path, "r+b") as f:
        f.seek(ends[2] + RECORD_OVERHEAD + 1)
        f.write(b"?")
    assert log[1] == RECORDS[1]
    with pytest.raises(CorruptLogError, match="record 2 fails its checksum"):
        log[2]
    log.close()


def test_truncate_after_compact_and_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "log"
    log = DurableLog(path)
    log.extend([b"r0", b"r1", b"r2", b"r3", b"r4"])
    log.sync()
    log.truncate_after(2)  # Raft: delete a conflicting suffix
    log.append(b"new3")
    log.sync()
    assert list(log.records()) == [b"r0", b"r1", b"r2", b"new3"]
    log.compact(2)  # a snapshot covers 0 and 1
    assert log.first_index == 2
    assert list(log.records()) == [b"r2", b"new3"]
    assert log[3] == b"new3"
    with pytest.raises(IndexError):
        log[1]
    with pytest.raises(IndexError):
        log.truncate_after(0)
    log.close()
    reopened = DurableLog(path)
    assert reopened.first_index == 2
    assert list(reopened.records(3)) == [b"new3"]
    reopened.rewrite([b"a", b"b"], first_index=10)
    assert reopened.next_index == 12
    reopened.truncate_after(9)
    assert len(reopened) == 0
    reopened.close()
    assert list(DurableLog(path).records()) == []


def test_misuse_is_reported(tmp_path: Path) -> None:
    log = DurableLog(tmp_path / "log")
    with pytest.raises(TypeError, match="records are bytes"):
        log.append("text")  # type: ignore[arg-type]
    log.close()
    with pytest.raises(ValueError, match="closed"):
        log.append(b"x")
    (tmp_path / "other").write_bytes(b"NOTALOG" * 10)
    with pytest.raises(CorruptLogError, match="bad magic"):
        DurableLog(tmp_path / "other")


# -- a model check: the log behaves like a list whose unsynced tail a crash forgets ---------

operations = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.binary(max_size=40)),
        st.tuples(st.just("sync"), st.none()),
        st.tuples(st.just("crash"), st.none()),
        st.tuples(st.just("reopen"), st.none()),
        st.tuples(st.just("truncate"), st.integers(0, 30)),
        st.tuples(st.just("compact"), st.integers(0, 30)),
    ),
    max_size=40,
)


@settings(max_examples=60)
@given(operations)
def test_log_matches_a_list_model(tmp_path_factory: pytest.TempPathFactory, ops) -> None:
    path = tmp_path_factory.mktemp("model") / "log"
    log = DurableLog(path)
    durable: list[bytes] = []
    pending: list[bytes] = []
    first = 0
    for op, arg in ops:
        if op == "append":
            assert log.append(arg) == first + len(durable) + len(pending)
            pending.append(arg)
        elif op == "sync":
            log.sync()
            durable += pending
            pending = []
        elif op == "crash":
            log = DurableLog(path)  # the old object is abandoned: its buffer is gone
            pending = []
        elif op == "reopen":
            log.close()
            durable += pending
            pending = []
            log = DurableLog(path)
        elif op == "truncate":
            durable += pending
            pending = []
            index = first - 1 + arg
            log.truncate_after(index)
            del durable[max(index - first + 1, 0) :]
        elif op == "compact":
            durable += pending
            pending = []
            upto = min(first + arg, first + len(durable))
            log.compact(upto)
            del durable[: upto - first]
            first = max(first, upto)
        assert list(log.records()) == durable + pending
        assert log.first_index == first
    log.close()
