"""Self-describing records, the reader that copes, and Table 1 measured on replicas' bytes."""

from __future__ import annotations

import pytest

from distlab.gfs import classify_chunk, classify_file, encode_record, read_unique, scan_records


def test_the_reader_skips_padding_and_torn_pieces_and_drops_duplicates() -> None:
    a, b = encode_record("a", b"alpha"), encode_record("b", b"beta")
    torn = encode_record("c", b"gamma")[:-2]
    chunk0 = a + bytes(7) + torn + b
    chunk1 = b + bytes(30)  # a retry that landed again after a failure
    assert [r.record_id for r in scan_records(chunk0)] == ["a", "b"]
    records = read_unique([chunk0, chunk1], chunk_size=64)
    assert [(r.record_id, r.payload) for r in records] == [("a", b"alpha"), ("b", b"beta")]
    assert records[1].offset == len(a) + 7 + len(torn)


def test_a_record_id_must_fit() -> None:
    with pytest.raises(ValueError, match="record id"):
        encode_record("", b"x")


def test_identical_replicas_of_whole_records_are_defined() -> None:
    data = encode_record("a", b"1" * 20) + encode_record("b", b"2" * 20)
    report = classify_file([{"n1": data, "n2": data, "n3": data}])
    assert report.row() == {"defined": len(data), "consistent": 0, "padding": 0,
                            "inconsistent": 0}  # fmt: skip
    assert report.verdict() == "defined"


def test_mingled_concurrent_writes_are_consistent_but_undefined() -> None:
    first, second = encode_record("w1", b"A" * 40), encode_record("w2", b"B" * 40)
    mingled = first[:30] + second[30:]  # each writer's piece landed in a different chunk
    report = classify_file([{"n1": mingled, "n2": mingled}])
    assert report.consistent == len(mingled) and report.defined == 0
    assert report.verdict() == "consistent but undefined"


def test_a_failed_append_leaves_an_inconsistent_region_between_defined_ones() -> None:
    a, b = encode_record("a", b"x" * 10), encode_record("b", b"y" * 10)
    # b failed on n2 (it has zeros there), then the retry put b again after it everywhere
    regions = classify_chunk({"n1": a + b + b + bytes(6), "n2": a + bytes(len(b)) + b + bytes(6)})
    assert [r.kind for r in regions] == ["defined", "inconsistent", "defined", "padding"]
    report = classify_file([{"n1": a + b + b, "n2": a + bytes(len(b)) + b}])
    assert report.verdict() == "defined interspersed with inconsistent"


def test_a_shorter_replica_is_inconsistent_where_it_has_nothing() -> None:
    a = encode_record("a", b"x" * 10)
    regions = classify_chunk([a + a, a])
    assert regions[-1].kind == "inconsistent" and regions[-1].size == len(a)
