"""Framing and codec: streams cut anywhere decode to the same frames; limits hold."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from distlab.rpc import codec
from distlab.rpc.framing import HEADER, VERSION, FrameDecoder, FrameError, encode_frame


@given(
    payloads=st.lists(st.binary(max_size=300), max_size=8),
    cuts=st.lists(st.integers(min_value=0, max_value=3000), max_size=10),
)
def test_any_chunking_yields_the_same_payloads(payloads, cuts):
    stream = b"".join(encode_frame(p) for p in payloads)
    points = sorted({min(c, len(stream)) for c in cuts} | {0, len(stream)})
    decoder = FrameDecoder()
    out = []
    for start, end in itertools.pairwise(points):
        out.extend(decoder.feed(stream[start:end]))
    assert out == payloads
    assert not decoder.partial


def test_oversized_length_is_refused_before_buffering():
    decoder = FrameDecoder(max_frame_bytes=1000)
    with pytest.raises(FrameError, match="limit"):
        decoder.feed(HEADER.pack(2**32 - 1, VERSION))
    assert decoder.buffered_bytes <= HEADER.size  # nothing beyond the header itself


def test_wrong_version_is_refused():
    with pytest.raises(FrameError, match="version"):
        FrameDecoder().feed(HEADER.pack(3, 99) + b"abc")


def test_partial_frame_is_reported():
    decoder = FrameDecoder()
    frame = encode_frame(b"hello")
    assert decoder.feed(frame[:3]) == []
    assert decoder.partial
    assert decoder.feed(frame[3:]) == [b"hello"]
    assert not decoder.partial


def test_encode_refuses_oversized_payload():
    with pytest.raises(FrameError):
        encode_frame(b"x" * 11, max_frame_bytes=10)


def test_request_shape_checks():
    good = [codec.REQUEST, 7, 3, "KV.get", ["x"]]
    assert codec.parse_request(codec.unpack(codec.pack(good))) == (7, 3, "KV.get", ["x"], None)
    with_session = [*good, ["cid", 4, 2]]
    assert codec.parse_request(with_session)[4] == ("cid", 4, 2)
    for bad in (
        [codec.REQUEST, -1, 0, "m", []],
        [codec.REQUEST, 1, 0, 5, []],
        [codec.REQUEST, 1, 0, "m", "notalist"],
        [codec.REPLY, 1, 0, True, None],
        {"a": 1},
        [codec.REQUEST, 1, 0, "m", [], ["cid", "x", 0]],
    ):
        with pytest.raises(codec.BadMessage):
            codec.parse_request(bad)


def test_unpack_garbage_raises_bad_message():
    with pytest.raises(codec.BadMessage):
        codec.unpack(b"\xc1")  # a msgpack byte that is never valid


def test_pack_refuses_arbitrary_objects():
    with pytest.raises(TypeError):
        codec.pack([object()])
