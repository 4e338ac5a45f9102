from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Literal

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st

from distlab.core.codec import MessageCodec, WireError
from distlab.kv.weak import AntiEntropy, Stamp, Update

CODEC = MessageCodec([Stamp, Update, AntiEntropy])


def roundtrip(value):
    return CODEC.decode(msgpack.unpackb(msgpack.packb(CODEC.encode(value)), strict_map_key=False))


def test_nested_messages_survive_msgpack():
    message = AntiEntropy((Update("x", "1", Stamp(3, "a")), Update("y", "", Stamp(1, "b"))))
    assert roundtrip(message) == message


def test_plain_data_passes_through_with_lists_as_lists():
    assert roundtrip({"k": [1, "a", b"\x00", None, 2.5]}) == {"k": [1, "a", b"\x00", None, 2.5]}


def test_a_field_typed_as_a_tuple_gets_its_tuple_back():
    message = AntiEntropy((Update("x", "1", Stamp(3, "a")),))
    assert type(roundtrip(message).entries) is tuple


def test_a_list_that_looks_like_a_tag_stays_plain_data():
    assert roundtrip(["Update", ["x", "1", 1]]) == ["Update", ["x", "1", 1]]


def test_unregistered_types_are_refused_both_ways():
    @dataclass(frozen=True)
    class Secret:
        x: int

    with pytest.raises(TypeError, match="register it"):
        CODEC.encode(Secret(1))
    with pytest.raises(WireError, match="unknown message type"):
        CODEC.decode({"__msg__": "Secret", "fields": [1]})
    with pytest.raises(WireError, match="unknown message type"):
        CODEC.decode({"__msg__": "os.system", "fields": ["rm -rf /"]})


@pytest.mark.parametrize(
    "data, message",
    [
        ({"__msg__": "Stamp", "fields": [1]}, "needs 2 fields"),
        ({"__msg__": "Stamp", "fields": 7}, "malformed"),
        ({"__msg__": "Stamp", "fields": [1, "a"], "extra": 1}, "malformed"),
        ({"__msg__": 5, "fields": []}, "unknown message type"),
        ({1.5: "x"}, "map keys"),
        ({"__msg__": "Stamp", "fields": ["3", "a"]}, "Stamp.counter must be int, got str"),
        ({"__msg__": "Stamp", "fields": [True, "a"]}, "must be int, got bool"),
        ({"__msg__": "Update", "fields": ["x", 1, None]}, "Update.value must be str"),
        ({"__msg__": "Update", "fields": ["x", "1", 3]}, "Update.stamp must hold Stamp"),
        ({"__msg__": "Update", "fields": ["x", "1", ["3", "a"]]}, "Stamp.counter must be int"),
    ],
)
def test_malformed_messages_are_clear_wire_errors(data, message):
    with pytest.raises(WireError, match=message):
        CODEC.decode(data)


def test_plain_map_may_not_use_the_tag_key():
    with pytest.raises(TypeError, match="__msg__"):
        CODEC.encode({"__msg__": "Stamp", "fields": [1, "a"]})


def test_registration_errors():
    with pytest.raises(TypeError, match="not a dataclass"):
        MessageCodec([int])
    with pytest.raises(ValueError, match="two message types"):
        MessageCodec([Stamp, Stamp])


leaves = st.none() | st.integers() | st.text(max_size=5) | st.binary(max_size=5)
tagged = st.fixed_dictionaries(
    {"__msg__": st.sampled_from(["Stamp", "Update", "AntiEntropy", "Nope"]) | leaves},
    optional={"fields": st.lists(leaves, max_size=4) | leaves, "x": leaves},
)


@given(st.recursive(leaves | tagged, lambda inner: st.lists(inner) | tagged, max_leaves=10))
def test_hostile_data_decodes_or_raises_wire_error_only(data):
    with contextlib.suppress(WireError):  # the one acceptable failure: a clear error
        CODEC.decode(data)


@dataclass(frozen=True)
class Shapes:
    pairs: tuple[tuple[str, int], ...]
    maybe: int | None
    op: Literal["put", "get"]
    table: dict[str, int]
    stamp: Stamp | None


SHAPES = MessageCodec([Shapes, Stamp])


def test_typed_shapes_round_trip_and_are_checked_on_the_way_in():
    value = Shapes((("a", 1), ("b", 2)), None, "put", {"x": 1}, Stamp(1, "n"))
    wire = msgpack.unpackb(msgpack.packb(SHAPES.encode(value)), strict_map_key=False)
    assert SHAPES.decode(wire) == value
    good = SHAPES.encode(value)["fields"]
    for position, bad, complaint in [
        (0, ["not pairs"], r"Shapes.pairs\[\] must be a list"),
        (0, [["a", "1"]], r"Shapes.pairs\[\]\[\] must be int"),
        (0, [["a", 1, 2]], "must have 2 items"),
        (1, "3", r"Shapes.maybe must be int \| None, got str"),
        (2, "delete", "must be one of"),
        (3, {"x": True}, r"Shapes.table\{\} must be int"),
        (4, [1, "n"], "wrong type"),
    ]:
        fields = list(good)
        fields[position] = bad
        with pytest.raises(WireError, match=complaint):
            SHAPES.decode({"__msg__": "Shapes", "fields": fields})
