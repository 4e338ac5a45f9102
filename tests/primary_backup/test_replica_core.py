"""The replica and arbiter cores, fed by hand: messages and ticks in, asserts on take_ready()."""

from __future__ import annotations

import random

import pytest

from distlab.primary_backup.arbiter import (
    Arbiter,
    ArbiterState,
    CorruptArbiterState,
    decode_state,
    encode_state,
)
from distlab.primary_backup.messages import (
    CODEC,
    LogAck,
    LogEntries,
    Reply,
    TestAndSet,
    TestAndSetReply,
    WentLive,
)
from distlab.primary_backup.replica import (
    BACKUP,
    LIVE,
    PRIMARY,
    STOPPED,
    Replica,
    ReplicaConfig,
    Rules,
)


def pair(**rules: bool) -> tuple[Replica, Replica]:
    config = ReplicaConfig(rules=Rules(**rules))
    primary = Replica("n0", "n1", "n2", random.Random(1), config, starts_as_primary=True)
    backup = Replica("n1", "n0", "n2", random.Random(2), config)
    primary.take_ready(), backup.take_ready()  # the "started" marks
    return primary, backup


def replies(ready) -> list[Reply]:
    return [item for item in ready.outputs if isinstance(item, Reply)]


def test_the_primary_holds_a_reply_until_the_backup_acknowledges_its_entry() -> None:
    primary, backup = pair()
    assert primary.submit("c", 1, "put", "x", "1") == "accepted"
    ready = primary.take_ready()
    assert replies(ready) == []  # the output rule: held
    assert primary.statistics().held_replies == 1
    (envelope,) = ready.messages
    assert isinstance(envelope.message, LogEntries) and envelope.dst == "n1"
    backup.receive("n0", envelope.message)
    ack = backup.take_ready().messages[0].message
    assert ack == LogAck(epoch=1, index=1)  # it holds entry 1 (it has not replayed it yet)
    assert backup.replayed_index == 0
    primary.receive("n1", ack)
    (reply,) = replies(primary.take_ready())
    assert (reply.client, reply.seq, reply.output, reply.index) == ("c", 1, "", 1)


def test_without_the_output_rule_the_reply_leaves_at_once() -> None:
    primary, _ = pair(output_rule=False)
    primary.submit("c", 1, "put", "x", "1")
    assert [r.output for r in replies(primary.take_ready())] == [""]


def test_the_backup_replays_behind_and_ends_in_the_primarys_state() -> None:
    primary, backup = pair()
    for seq in range(1, 6):
        primary.submit("c", seq, "append", "x", str(seq))
        for _ in range(3):
            primary.tick()  # idle instructions and, every few ticks, a timer interrupt
    for envelope in primary.take_ready().messages:
        backup.receive("n0", envelope.message)
    kinds = {entry.kind for entry in backup.log.values()}
    assert {"request", "interrupt", "clock", "random"} <= kinds
    backup.take_ready()
    backup.tick()
    assert 0 < backup.replayed_index < backup.last_index  # replay lags (8 entries a tick)
    for _ in range(5):
        backup.tick()
    assert backup.replayed_index == backup.last_index
    # At the last entry both ran, their machines agree, down to the instruction counter.
    twin = primary.machine.copy()
    assert backup.machine.user_memory() == twin.user_memory() == {"x": "12345"}
    assert backup.machine.memory["_random"] == twin.memory["_random"]


def test_a_silent_primary_makes_the_backup_ask_the_arbiter_then_go_live() -> None:
    _, backup = pair()
    for _ in range(ReplicaConfig().failover_timeout_ticks + 1):
        backup.tick()
    asked = [e.message for e in backup.take_ready().messages if e.dst == "n2"]
    assert asked == [TestAndSet(epoch=1, candidate="n1")]
    assert backup.submit("c", 1, "get", "x") == "not_primary"  # not live before the answer
    backup.receive("n2", TestAndSetReply(1, "n1", True, "n1", 1))
    assert backup.role == LIVE
    assert any(isinstance(item, WentLive) for item in backup.take_ready().outputs)


def test_the_loser_of_the_test_and_set_stops() -> None:
    primary, _ = pair()
    for _ in range(ReplicaConfig().failover_timeout_ticks + 1):
        primary.tick()  # no acknowledgements: the backup is gone (or cut off)
    assert primary.asking_arbiter
    primary.receive("n2", TestAndSetReply(1, "n0", False, "n1", 1))
    assert primary.role == STOPPED
    assert primary.submit("c", 1, "get", "x") == "not_primary"


def test_without_test_and_set_a_silent_partner_is_enough_to_go_live() -> None:
    primary, backup = pair(test_and_set=False)
    for _ in range(ReplicaConfig().failover_timeout_ticks + 1):
        primary.tick()
        backup.tick()
    assert (primary.role, backup.role) == (LIVE, LIVE)  # split brain, by design of the test


def test_the_arbiter_grants_the_first_asker_only_and_persists_before_replying() -> None:
    arbiter = Arbiter("n2")
    arbiter.receive("n1", TestAndSet(1, "n1"))
    ready = arbiter.take_ready()
    assert ready.must_persist and ready.state == ArbiterState(1, "n1")
    assert ready.messages[0].message == TestAndSetReply(1, "n1", True, "n1", 1)
    arbiter.receive("n0", TestAndSet(1, "n0"))
    assert arbiter.take_ready().messages[0].message.granted is False
    arbiter.receive("n1", TestAndSet(1, "n1"))  # asking again (a lost reply): still yes
    assert arbiter.take_ready().messages[0].message.granted is True
    arbiter.receive("n0", TestAndSet(0, "n0"))  # an older pairing
    assert arbiter.take_ready().messages[0].message.granted is False
    arbiter.receive("n0", TestAndSet(1, "n1"))  # on another's behalf
    assert arbiter.take_ready().messages[0].message.granted is False


def test_a_bad_request_is_refused_and_nothing_is_logged() -> None:
    primary, _ = pair()
    for args in [("c", 1, "drop", "x", ""), ("c", 0, "put", "x", "1"), ("c|d", 1, "get", "x", "")]:
        assert primary.submit(*args) == "bad_request"
    assert primary.last_index == 0


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        (b"\xff", "not JSON"),
        (b"[1, 2]", "must have epoch and holder"),
        (b'{"epoch": 0, "holder": ""}', "positive integer"),
        (b'{"epoch": 2, "holder": 7}', "must be a string"),
    ],
)
def test_a_corrupt_arbiter_state_is_a_clear_error(data: bytes, complaint: str) -> None:
    with pytest.raises(CorruptArbiterState, match=complaint):
        decode_state(data)
    assert decode_state(encode_state(ArbiterState(3, "n0"))) == ArbiterState(3, "n0")


def test_messages_cross_the_codec_and_bad_ones_do_not() -> None:
    primary, _ = pair()
    primary.submit("c", 1, "put", "x", "1")
    message = primary.take_ready().messages[0].message
    assert CODEC.decode(CODEC.encode(message)) == message
    from distlab.core import WireError

    with pytest.raises(WireError):
        CODEC.decode({"__msg__": "LogAck", "fields": ["one", 2]})


def test_a_restarted_replica_waits_to_be_cloned() -> None:
    replica = Replica("n0", "n1", "n2", random.Random(1), first_boot=False, starts_as_primary=True)
    assert replica.role == STOPPED
    for _ in range(2):
        replica.tick()
    assert [type(e.message).__name__ for e in replica.take_ready().messages] == ["Join"]
    assert replica.role not in (PRIMARY, BACKUP)
