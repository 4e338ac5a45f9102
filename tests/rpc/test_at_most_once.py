"""The duplicate table (pure) and the client's sequence/ack bookkeeping."""

from __future__ import annotations

import pytest

from distlab.rpc.at_most_once import (
    CLIENT_OVERHEAD_BYTES,
    ENTRY_OVERHEAD_BYTES,
    Cached,
    ClientSession,
    DuplicateTable,
    Execute,
    Expired,
    InProgress,
    Stale,
)


def test_runs_once_then_replays_the_stored_reply():
    table = DuplicateTable()
    assert table.begin("c", 1, 0) == Execute()
    assert table.begin("c", 1, 0, waiter="retry") == InProgress()
    assert table.finish("c", 1, "reply-1") == ["retry"]
    assert table.begin("c", 1, 0) == Cached("reply-1")
    assert table.statistics().executed == 1
    assert table.statistics().replayed == 1


def test_ack_forgets_replies_and_refuses_late_copies():
    table = DuplicateTable()
    for seq in (1, 2, 3):
        table.begin("c", seq, 0)
        table.finish("c", seq, seq)
    assert table.statistics().entries == 3
    assert table.begin("c", 4, 2) == Execute()  # acknowledges 1 and 2
    assert table.statistics().entries == 2  # 3 and 4 remain
    assert table.begin("c", 2, 2) == Stale()  # a delayed copy: never run again
    assert table.begin("c", 3, 2) == Cached(3)


def test_per_client_cap_bounds_memory_without_rerunning():
    table = DuplicateTable(max_entries_per_client=5)
    for seq in range(1, 51):
        table.begin("c", seq, 0)
        table.finish("c", seq, seq)
    assert table.statistics().entries == 5
    assert table.begin("c", 1, 0) == Stale()  # forgotten counts as acknowledged


def test_lru_eviction_and_expiry():
    table = DuplicateTable(max_clients=2)
    for client in ("a", "b", "c"):
        table.begin(client, 1, 0)
        table.finish(client, 1, "r")
    stats = table.statistics()
    assert stats.clients == 2 and stats.evicted_clients == 1
    # "a" was forgotten; a request showing it has history is refused, not re-run.
    assert table.begin("a", 2, 1) == Expired()


def test_session_ack_is_highest_contiguous_finished_seq():
    session = ClientSession("me")
    s1, s2, s3 = session.start(), session.start(), session.start()
    assert session.ack == 0
    session.end(s2)
    assert session.ack == 0
    session.end(s1)
    assert session.ack == 2
    session.end(s3)
    assert session.ack == 3


def test_invalid_bounds():
    with pytest.raises(ValueError):
        DuplicateTable(max_clients=0)


def test_stored_replies_are_bounded_in_bytes_and_forgotten_oldest_first():
    budget = 10_000
    table = DuplicateTable(max_bytes=budget)
    big = "x" * 3000
    for client in ("old", "new"):
        for seq in (1, 2, 3):
            assert table.begin(client, seq, 0) == Execute()
            table.finish(client, seq, big, reply_bytes=len(big))
            assert table.statistics().size_bytes <= budget
    stats = table.statistics()
    assert stats.forgotten_for_bytes >= 3
    # The least recently seen client lost its oldest replies first; a late copy of one of
    # them is refused (never run again), while the newest reply is still replayed.
    assert table.begin("old", 1, 0) == Stale()
    assert table.begin("new", 3, 0) == Cached(big)


def test_a_reply_larger_than_the_budget_is_not_kept_and_never_rerun():
    table = DuplicateTable(max_bytes=1000)
    table.begin("c", 1, 0)
    table.finish("c", 1, "y" * 5000, reply_bytes=5000)
    assert table.statistics().size_bytes <= 1000
    assert table.begin("c", 1, 0) == Stale()


def test_size_returns_to_the_client_overhead_when_everything_is_acknowledged():
    table = DuplicateTable()
    table.begin("c", 1, 0)
    empty = table.statistics().size_bytes - ENTRY_OVERHEAD_BYTES
    table.finish("c", 1, "r" * 100, reply_bytes=100)
    assert table.begin("c", 2, 1) == Execute()  # acknowledges 1
    table.finish("c", 2, "r", reply_bytes=1)
    assert table.begin("c", 3, 2) == Execute()
    assert table.statistics().size_bytes == empty + ENTRY_OVERHEAD_BYTES
    table = DuplicateTable(max_clients=1)
    table.begin("a", 1, 0)
    table.begin("b", 1, 0)  # evicts "a" and its entry
    assert table.statistics().size_bytes == CLIENT_OVERHEAD_BYTES + 1 + ENTRY_OVERHEAD_BYTES


def test_copies_waiting_on_a_running_request_are_bounded():
    table = DuplicateTable(max_waiters_per_entry=3)
    table.begin("c", 1, 0)
    for copy in range(10):
        assert table.begin("c", 1, 0, waiter=copy) == InProgress()
    assert table.finish("c", 1, "r") == [7, 8, 9]  # the newest copies get the reply
    assert table.statistics().dropped_waiters == 7
