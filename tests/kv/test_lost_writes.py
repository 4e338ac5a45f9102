"""lost_acknowledged_writes on hand-made histories: what counts as an acked write lost."""

from __future__ import annotations

from distlab.check import History, op
from distlab.kv.workload import lost_acknowledged_writes


def lost(ops, final):
    return [
        (w.kind, w.value) for w in lost_acknowledged_writes(History.from_operations(ops), final)
    ]


def test_every_acked_append_must_appear_in_the_final_value() -> None:
    ops = [
        op(1, "append", "x", "a1;", start=0, end=5),
        op(2, "append", "x", "a2;", start=1, end=6),
        op(1, "append", "x", "a3;", start=7, end=9),
    ]
    assert lost(ops, {"x": "a2;a1;a3;"}) == []
    # Last-writer-wins of two concurrent appends keeps one of them: the other is lost.
    assert lost(ops, {"x": "a2;a3;"}) == [("append", "a1;")]


def test_a_put_that_may_come_later_excuses_a_missing_write() -> None:
    ops = [
        op(1, "append", "x", "a1;", start=0, end=5),
        op(2, "put", "x", "p2", start=3, end=8),  # concurrent with the append: may be after it
    ]
    assert lost(ops, {"x": "p2"}) == []
    # A put that completed before the append began cannot overwrite it.
    ops = [
        op(2, "put", "x", "p2", start=0, end=2),
        op(1, "append", "x", "a1;", start=3, end=5),
    ]
    assert lost(ops, {"x": "p2"}) == [("append", "a1;")]


def test_a_put_is_kept_when_the_value_starts_with_it() -> None:
    ops = [
        op(1, "put", "x", "p1", start=0, end=2),
        op(2, "append", "x", "a2;", start=3, end=4),
    ]
    assert lost(ops, {"x": "p1a2;"}) == []
    assert lost(ops, {"x": ""}) == [("put", "p1"), ("append", "a2;")]


def test_failed_and_indefinite_writes_are_never_counted_lost_and_failed_puts_excuse_nothing() -> (
    None
):
    ops = [
        op(1, "append", "x", "a1;", start=0, end=5, status="info"),
        op(2, "put", "x", "p2", start=0, end=5, status="fail"),
        op(3, "append", "x", "a3;", start=1, end=6),
    ]
    assert lost(ops, {"x": ""}) == [("append", "a3;")]
    # An indefinite put, though, may have overwritten the append.
    ops[1] = op(2, "put", "x", "p2", start=0, end=5, status="info")
    assert lost(ops, {"x": "p2"}) == []
