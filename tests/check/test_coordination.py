"""ZooKeeper's checker on hand-made histories: what it accepts, what it catches."""

from __future__ import annotations

from distlab.check import check_linearizable
from distlab.check.coordination import (
    CoordOp,
    FencedWrite,
    check_coordination,
    check_fenced_writes,
    to_kv_history,
)


def op(i, client, kind, path, value, output, zxid, start, end, status="ok"):
    return CoordOp(i, client, kind, path, value, output, zxid, start, end, status)


WRITE = op(0, "w", "set", "/x", "2", None, 5, 0, 10)


def test_a_stale_read_is_zookeeper_but_not_linearizable() -> None:
    history = [
        op(1, "w", "create", "/x", "1", None, 3, -10, -5),
        WRITE,
        op(2, "r", "get", "/x", None, "1", 4, 20, 30),  # after the write, from an older copy
    ]
    verdict = check_coordination(history)
    assert verdict.ok and verdict.stale_reads == 1
    assert check_linearizable(to_kv_history(history)).verdict == "violation"


def test_a_client_reading_older_than_its_own_write_breaks_fifo() -> None:
    history = [WRITE, op(1, "w", "get", "/x", None, "", 2, 20, 30)]
    verdict = check_coordination(history)
    assert not verdict.fifo_client_order


def test_writes_out_of_real_time_order_are_caught() -> None:
    history = [WRITE, op(1, "v", "set", "/x", "3", None, 4, 20, 30)]
    assert not check_coordination(history).writes_linearizable


def test_a_read_of_a_value_that_was_never_there_is_caught() -> None:
    history = [WRITE, op(1, "w", "get", "/x", None, "9", 5, 20, 30)]
    assert not check_coordination(history).reads_match_a_state


def test_an_indefinite_write_may_be_read() -> None:
    history = [
        op(0, "w", "set", "/x", "2", None, None, 0, 10, status="info"),
        op(1, "r", "get", "/x", None, "2", 7, 20, 30),
    ]
    assert check_coordination(history).ok


def test_fenced_writes() -> None:
    assert check_fenced_writes([FencedWrite("a", 1, True), FencedWrite("b", 2, True)]) == []
    stale = [FencedWrite("b", 2, True), FencedWrite("a", 1, True)]
    assert check_fenced_writes(stale) == ["a wrote with token 1 after b wrote with token 2"]
    refused = [FencedWrite("b", 2, True), FencedWrite("a", 1, False)]
    assert check_fenced_writes(refused) == []
