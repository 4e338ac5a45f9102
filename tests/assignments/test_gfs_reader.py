"""The GFS reader assignment's harness passes a correct reader and catches each broken one
on the check aimed at its mistake."""

from __future__ import annotations

from distlab.assignments.gfs_reader import MAGIC, check_reader, record_at
from distlab.gfs import read_unique


def correct(chunks: list[bytes]) -> list[tuple[str, bytes]]:
    return [(record.record_id, record.payload) for record in read_unique(chunks)]


def keeps_duplicates(chunks: list[bytes]) -> list[tuple[str, bytes]]:
    found = []
    for data in chunks:
        position = data.find(MAGIC)
        while position != -1:
            record = record_at(data, position)
            if record is None:
                position = data.find(MAGIC, position + 1)
                continue
            found.append((record.record_id, record.payload))
            position = data.find(MAGIC, record.end)
    return found


def looks_inside_records(chunks: list[bytes]) -> list[tuple[str, bytes]]:
    seen, found = set(), []
    for data in chunks:
        position = data.find(MAGIC)
        while position != -1:
            record = record_at(data, position)
            if record is not None and record.record_id not in seen:
                seen.add(record.record_id)
                found.append((record.record_id, record.payload))
            position = data.find(MAGIC, position + 1)  # even inside the record just read
    return found


def stops_at_the_first_gap(chunks: list[bytes]) -> list[tuple[str, bytes]]:
    seen, found = set(), []
    for data in chunks:
        position = 0
        while (record := record_at(data, position)) is not None:  # padding, garbage: done
            if record.record_id not in seen:
                seen.add(record.record_id)
                found.append((record.record_id, record.payload))
            position = record.end
    return found


def test_a_correct_reader_passes_every_check() -> None:
    verdict = check_reader(correct)
    assert verdict.passed, verdict.text()
    assert len(verdict.results) == 7


def test_a_reader_that_keeps_duplicates_fails_the_retry_check() -> None:
    verdict = check_reader(keeps_duplicates)
    assert "a record retried after a failure is returned once" in verdict.failed
    assert "whole records come back in file order" not in verdict.failed


def test_a_reader_that_looks_inside_records_finds_a_record_that_is_not_there() -> None:
    verdict = check_reader(looks_inside_records)
    assert verdict.failed == ["a record inside another record's payload is not a record"]


def test_a_reader_that_stops_at_padding_or_garbage_loses_records() -> None:
    verdict = check_reader(stops_at_the_first_gap)
    assert "a torn record is skipped and the records after it are kept" in verdict.failed
    assert "garbage between records is skipped" in verdict.failed
    assert "padding at the end of a chunk is skipped" not in verdict.failed  # padding ends it
