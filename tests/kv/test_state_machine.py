from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distlab.kv.state_machine import CODEC, Command, KVStateMachine


def test_put_get_append():
    machine = KVStateMachine()
    assert machine.apply(Command("c1", 1, "get", "x")).value == ""
    machine.apply(Command("c1", 2, "put", "x", "a"))
    machine.apply(Command("c1", 3, "append", "x", "b"))
    assert machine.apply(Command("c1", 4, "get", "x")).value == "ab"


def test_retried_append_is_applied_once():
    machine = KVStateMachine()
    first = machine.apply(Command("c1", 1, "append", "x", "+"))
    again = machine.apply(Command("c1", 1, "append", "x", "+"))
    assert not first.duplicate and again.duplicate
    assert machine.data["x"] == "+"


def test_retried_get_returns_the_remembered_result_not_a_fresh_read():
    machine = KVStateMachine()
    machine.apply(Command("c1", 1, "put", "x", "old"))
    machine.apply(Command("c2", 1, "get", "x"))
    machine.apply(Command("c1", 2, "put", "x", "new"))
    assert machine.apply(Command("c2", 1, "get", "x")).value == "old"


def test_stale_retry_after_client_moved_on_is_not_applied():
    machine = KVStateMachine()
    machine.apply(Command("c1", 1, "append", "x", "a"))
    machine.apply(Command("c1", 2, "append", "x", "b"))
    assert machine.apply(Command("c1", 1, "append", "x", "a")).duplicate
    assert machine.data["x"] == "ab"


def test_duplicate_table_survives_snapshot_restore():
    machine = KVStateMachine()
    machine.apply(Command("c1", 1, "append", "x", "a"))
    restored = KVStateMachine.restore(machine.snapshot())
    assert restored.apply(Command("c1", 1, "append", "x", "a")).duplicate
    assert restored.data == {"x": "a"}


def test_forgetting_a_client_allows_its_retry_again():
    machine = KVStateMachine()
    machine.apply(Command("c1", 1, "append", "x", "a"))
    machine.apply(Command("c2", 1, "append", "y", "b"))
    assert machine.forget_clients_except({"c2"}) == 1
    assert not machine.apply(Command("c1", 1, "append", "x", "a")).duplicate


@pytest.mark.parametrize("blob", [b"", b"\x00\x01", b"\x81\xa4data\x01"])
def test_corrupt_snapshot_is_a_clear_error(blob):
    with pytest.raises(ValueError, match="not a KV snapshot"):
        KVStateMachine.restore(blob)


def test_command_validation():
    with pytest.raises(ValueError, match="unknown operation"):
        Command("c", 1, "delete", "x")
    with pytest.raises(ValueError, match="from 1"):
        Command("c", 0, "get", "x")
    command = Command("c", 3, "append", "k", "v")
    assert CODEC.decode(CODEC.encode(command)) == command


commands = st.lists(
    st.builds(
        Command,
        client_id=st.sampled_from(["c1", "c2", "c3"]),
        seq=st.integers(1, 6),
        op=st.sampled_from(["put", "get", "append"]),
        key=st.sampled_from(["x", "y"]),
        value=st.sampled_from(["a", "b", ""]),
    ),
    max_size=40,
)


@given(commands)
def test_replicas_applying_the_same_log_agree_and_duplicates_change_nothing(log):
    one, two = KVStateMachine(), KVStateMachine()
    for command in log:
        one.apply(command)
        two.apply(command)
        two.apply(command)  # every command delivered twice to the second replica
    assert one.data == two.data
    assert one.last_applied == two.last_applied
