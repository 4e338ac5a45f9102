"""Aurora's cores on their own: take_ready() after each input, and clear errors."""

from __future__ import annotations

import pytest

from distlab.aurora import Committed, Refused, StorageNode, Writer
from distlab.aurora.core import check_writes
from distlab.aurora.messages import (
    Append,
    Durable,
    GossipAsk,
    GossipGive,
    LogRecord,
    RecoveryInfo,
    RecoveryQuery,
)

STORAGE = ("n1", "n2", "n3", "n4", "n5", "n6")


def record(lsn: int, txn: str = "t", last: bool = True, epoch: int = 1) -> LogRecord:
    return LogRecord(lsn, epoch, txn, "p1", f"v{lsn}", last)


def open_writer(**options) -> Writer:
    writer = Writer("n0", STORAGE, 1, **options)
    for node in STORAGE:
        writer.receive(node, RecoveryInfo(1, 0, 0))
    for node in STORAGE:
        writer.receive(node, Durable(1, 0))
    writer.take_ready()
    assert writer.phase == "open"
    return writer


def test_a_transaction_commits_on_the_fourth_durable_answer() -> None:
    writer = open_writer()
    assert writer.commit("t1", (("p1", "a"), ("p2", "b"))) is None
    sent = writer.take_ready().messages
    assert {env.dst for env in sent} == set(STORAGE)
    assert all(len(env.message.records) == 2 and env.message.pages == () for env in sent)
    for node in STORAGE[:3]:
        writer.receive(node, Durable(1, 2))
    assert writer.take_ready().outputs == []
    writer.receive("n4", Durable(1, 2))
    assert writer.take_ready().outputs == [Committed("t1", 2)]


def test_page_shipping_sends_whole_pages_beside_the_log() -> None:
    writer = open_writer(shipping="pages", write_quorum=6)
    writer.commit("t1", (("p1", "a"),))
    assert all(env.message.pages == (("p1", 8192),) for env in writer.take_ready().messages)


def test_writes_are_refused_without_a_write_quorum() -> None:
    writer = open_writer()
    for _ in range(writer.timing.alive_ticks + 1):
        writer.tick()
    for node in STORAGE[:3]:
        writer.receive(node, Durable(1, 0))
    refused = writer.commit("t1", (("p1", "a"),))
    assert isinstance(refused, Refused)
    assert refused.reason == (
        "write quorum unavailable: 3 of 6 storage nodes answer, a write needs 4"
    )


def test_a_storage_node_acknowledges_only_its_contiguous_prefix() -> None:
    node = StorageNode("n1", "n0", STORAGE)
    node.receive("n0", Append(1, (), 0, (record(1), record(3))))
    ready = node.take_ready()
    assert ready.must_persist and [r.lsn for r in ready.records] == [1, 3]
    assert ready.messages[0].message == Durable(1, 1)


def test_gossip_fills_a_hole_from_a_peer() -> None:
    behind, ahead = StorageNode("n1", "n0", STORAGE), StorageNode("n2", "n0", STORAGE)
    ahead.receive("n0", Append(1, (), 0, (record(1), record(2))))
    behind.receive("n0", Append(1, (), 0, (record(2),)))
    ahead.take_ready(), behind.take_ready()
    ahead.receive("n1", GossipAsk(1, behind.scl))
    give = ahead.take_ready().messages[0].message
    assert isinstance(give, GossipGive) and [r.lsn for r in give.records] == [1, 2]
    behind.receive("n2", give)
    assert behind.scl == 2 and behind.gossip_filled == 2


def test_a_truncation_drops_records_a_recovery_cut_off() -> None:
    node = StorageNode("n1", "n0", STORAGE)
    node.receive("n0", Append(1, (), 0, (record(1), record(2), record(3))))
    node.receive("n0", RecoveryQuery(3, ((2, 1),)))
    assert sorted(node.records) == [1] and node.scl == 1


@pytest.mark.parametrize(
    ("writes", "message"),
    [
        ((), "a transaction is 1 to 16"),
        ("p1", "a transaction is 1 to 16"),
        ((("p1",),), "a \\(page, value\\) pair"),
        ((("", "v"),), "a page name must be a non-empty string"),
        ((("p1", 3),), "a value must be a string"),
        (tuple(("p", "v") for _ in range(17)), "a transaction is 1 to 16"),
    ],
)
def test_bad_transactions_get_clear_errors(writes, message) -> None:
    with pytest.raises(ValueError, match=message):
        check_writes(writes)


def test_bad_options_get_clear_errors() -> None:
    with pytest.raises(ValueError, match="shipping must be one of"):
        Writer("n0", STORAGE, 1, shipping="blocks")
    with pytest.raises(ValueError, match="epoch must be at least 1"):
        Writer("n0", STORAGE, 0)
    with pytest.raises(ValueError, match="slow ticks"):
        StorageNode("n1", "n0", STORAGE).set_slow(-1)
