"""The chain node's rules, one message at a time: inputs in, assertions on `take_ready()`."""

from __future__ import annotations

import pytest

from distlab.chain.core import ChainNode, ChainTiming, ReadDone, Refused, WriteDone
from distlab.chain.manager import ConfigManager, ManagerReady
from distlab.chain.messages import (
    Ack,
    Behind,
    Heartbeat,
    NewConfig,
    StateTransfer,
    Update,
    VersionQuery,
    VersionReply,
)
from distlab.core import Envelope

CHAIN = (("n1", 1, 1), ("n2", 2, 1), ("n3", 3, 1))


def node(name: str, protocol: str = "craq", members=CHAIN, epoch: int = 1) -> ChainNode:
    incarnation = {"n1": 1, "n2": 2, "n3": 3, "n4": 4}[name]
    core = ChainNode(name, manager="n0", protocol=protocol, incarnation=incarnation)
    core.now = 5
    core.receive("n0", NewConfig(epoch, members, 5))  # a configuration and a lease
    core.take_ready()
    return core


def test_the_head_numbers_a_write_and_sends_it_down_the_chain() -> None:
    head = node("n1")
    assert head.write("c:1", "x", "a") is None
    assert head.take_ready().messages == [Envelope("n1", "n2", Update(1, 1, "x", "a", "c:1"))]
    assert head.dirty == {"x": [(1, "a")]} and head.pending


def test_only_the_head_takes_writes_and_a_refusal_names_the_chain() -> None:
    refused = node("n2").write("c:1", "x", "a")
    assert isinstance(refused, Refused) and refused.members == CHAIN and "head" in refused.reason


def test_the_tail_commits_on_arrival_and_acks_upstream() -> None:
    tail = node("n3")
    tail.receive("n2", Update(1, 1, "x", "a", "c:1"))
    assert tail.take_ready().messages == [Envelope("n3", "n2", Ack(1, 1))]
    assert tail.value_of("x") == (1, "a") and tail.committed == 1


def test_an_ack_cleans_the_version_and_the_head_answers_its_client() -> None:
    head = node("n1")
    head.write("c:1", "x", "a")
    head.take_ready()
    head.receive("n2", Ack(1, 1))
    assert head.take_ready().outputs == [WriteDone("c:1", 1)]
    assert head.value_of("x") == (1, "a") and not head.dirty and not head.pending


def test_updates_apply_in_order_only_and_one_that_overtook_waits_for_the_gap() -> None:
    middle = node("n2")
    middle.receive("n1", Update(1, 2, "x", "b", ""))
    assert middle.applied == 0 and not middle.take_ready().messages
    middle.receive("n1", Update(1, 1, "x", "a", ""))
    assert middle.applied == 2 and middle.dirty == {"x": [(1, "a"), (2, "b")]}
    sent = [e.message.seq for e in middle.take_ready().messages]
    assert sent == [1, 2], "forwarded in order"


def test_craq_answers_a_clean_key_locally_and_asks_the_tail_about_a_dirty_one() -> None:
    middle = node("n2")
    middle.receive("n1", Update(1, 1, "x", "a", ""))
    middle.take_ready()
    middle.read("r:1", "y")  # clean (never written)
    assert middle.take_ready().outputs == [ReadDone("r:1", "y", "", 0, True)]
    middle.read("r:2", "x")  # dirty: version 1 is not known to be committed
    assert middle.take_ready().messages == [Envelope("n2", "n3", VersionQuery(1, 1, "x"))]
    middle.receive("n3", VersionReply(1, 1, "x", 0))  # the tail has not got it yet
    assert middle.take_ready().outputs == [ReadDone("r:2", "x", "", 0, False)]


def test_the_tail_answers_a_version_query_with_its_committed_version() -> None:
    tail = node("n3")
    tail.receive("n2", Update(1, 1, "x", "a", ""))
    tail.take_ready()
    tail.receive("n1", VersionQuery(1, 7, "x"))
    assert tail.take_ready().messages == [Envelope("n3", "n1", VersionReply(1, 7, "x", 1))]


def test_chain_replication_reads_only_at_the_tail() -> None:
    assert isinstance(node("n2", "cr").read("r:1", "x"), Refused)
    assert node("n3", "cr").read("r:1", "x") is None


def test_no_reads_without_a_lease() -> None:
    tail = node("n3", "cr")
    tail.now = 5 + ChainTiming().lease_ticks  # the lease from tick 5 has run out
    refused = tail.read("r:1", "x")
    assert isinstance(refused, Refused) and "lease" in refused.reason


def test_epoch_fencing_rejects_a_message_from_an_older_configuration() -> None:
    tail = node("n3")
    tail.receive("n0", NewConfig(2, (("n2", 2, 1), ("n3", 3, 1)), -1))  # n1 removed
    tail.receive("n2", Update(1, 1, "x", "stale", ""))
    assert tail.stale_rejected == 1 and tail.applied == 0
    assert tail.take_ready().messages == []


def test_only_the_manager_may_change_the_configuration() -> None:
    tail = node("n3")
    tail.receive("n1", NewConfig(9, (("n1", 1, 1),), -1))
    assert tail.epoch == 1 and tail.stale_rejected == 1


def test_when_the_tail_goes_its_predecessor_commits_what_it_holds() -> None:
    middle = node("n2")
    middle.receive("n1", Update(1, 1, "x", "a", ""))
    middle.take_ready()
    middle.receive("n0", NewConfig(2, CHAIN[:2], -1))
    assert middle.role() == "tail" and middle.committed == 1
    assert Envelope("n2", "n1", Ack(2, 1)) in middle.take_ready().messages


def test_when_a_middle_node_goes_its_predecessor_resends_what_is_pending() -> None:
    head = node("n1")
    head.write("c:1", "x", "a")
    head.take_ready()
    head.receive("n0", NewConfig(2, (CHAIN[0], CHAIN[2]), -1))  # n2 removed
    assert head.take_ready().messages == [Envelope("n1", "n3", Update(2, 1, "x", "a", "c:1"))]


def test_a_new_tail_asks_for_the_state_and_gets_a_transfer() -> None:
    members = (*CHAIN, ("n4", 4, 2))
    old_tail = node("n3")
    old_tail.receive("n2", Update(1, 1, "x", "a", ""))
    old_tail.receive("n0", NewConfig(2, members, -1))
    old_tail.take_ready()
    joiner = node("n4", members=members, epoch=2)
    assert joiner.role() == "joining"
    old_tail.receive("n4", Behind(2, 0, False))
    transfer = StateTransfer(2, 1, (("x", 1, "a"),))
    assert old_tail.take_ready().messages == [Envelope("n3", "n4", transfer)]
    joiner.receive("n3", transfer)
    assert joiner.role() == "tail" and joiner.value_of("x") == (1, "a")


def test_a_node_removed_and_added_again_drops_what_it_held() -> None:
    tail = node("n3")
    tail.receive("n2", Update(1, 1, "x", "a", ""))
    tail.receive("n0", NewConfig(3, (*CHAIN[:2], ("n3", 3, 3)), -1))  # missed epoch 2
    assert tail.role() == "joining" and tail.applied == 0 and not tail.clean


def test_the_manager_founds_the_chain_once_every_node_is_heard_then_persists_it() -> None:
    manager = ConfigManager("n0", ("n1", "n2"))
    manager.receive("n1", Heartbeat(0, 11, False, 2))
    manager.tick()
    assert manager.epoch == 0
    manager.receive("n2", Heartbeat(0, 12, False, 2))
    manager.tick()
    ready = manager.take_ready()
    assert isinstance(ready, ManagerReady) and ready.config == (1, (("n1", 11, 1), ("n2", 12, 1)))
    assert ready.must_persist


def test_the_manager_removes_a_restarted_node_and_adds_it_back_at_the_tail() -> None:
    manager = ConfigManager("n0", ("n1", "n2", "n3"), epoch=1, members=CHAIN)
    for name, incarnation in (("n1", 1), ("n2", 2), ("n3", 3)):
        manager.receive(name, Heartbeat(1, incarnation, True, 1))
    manager.receive("n1", Heartbeat(0, 99, False, 1))  # n1 restarted: a new incarnation
    manager.tick()
    assert manager.epoch == 2
    assert manager.members == (("n2", 2, 1), ("n3", 3, 1), ("n1", 99, 2))


def test_the_manager_never_removes_the_last_node_holding_the_state() -> None:
    manager = ConfigManager("n0", ("n1",), epoch=1, members=(("n1", 1, 1),))
    for _ in range(5 * ChainTiming().failure_timeout_ticks):
        manager.tick()
    assert manager.members == (("n1", 1, 1),)


@pytest.mark.parametrize(
    "make, complaint",
    [
        (lambda: ChainNode("n1", manager="n0", protocol="paxos"), "protocol"),
        (lambda: ChainNode("n1", manager=None, initial_members=("n2",)), "initial_members"),
        (lambda: ChainTiming(lease_ticks=20, failure_timeout_ticks=30), "lease"),
        (lambda: ChainTiming(heartbeat_ticks=0), "heartbeat_ticks"),
        (lambda: ConfigManager("n0", ()), "at least one"),
        (lambda: ConfigManager("n1", ("n1",)), "manager cannot"),
    ],
)
def test_bad_arguments_get_clear_errors(make, complaint) -> None:
    with pytest.raises(ValueError, match=complaint):
        make()


def test_a_chain_node_refuses_a_message_it_does_not_take() -> None:
    with pytest.raises(ValueError, match="does not take"):
        node("n1").receive("n2", object())
