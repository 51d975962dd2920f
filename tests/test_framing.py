"""Framing round-trips and hostile frames, in-process over real pipes."""

from __future__ import annotations

import io
import json
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flattr_host import framing
from flattr_host.native import FrameReader

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


def _pipe_with(data: bytes) -> int:
    r, w = os.pipe()
    os.write(w, data)  # small enough for the pipe buffer
    os.close(w)
    return r


@given(st.lists(json_values, min_size=1, max_size=8))
def test_frames_round_trip_through_a_pipe(messages: list[object]) -> None:
    data = b"".join(framing.encode(m, 1 << 20) for m in messages)
    fd = _pipe_with(data)
    try:
        reader = FrameReader(fd, 1 << 20)
        got = [framing.decode(reader.read()) for _ in messages]
        with pytest.raises(framing.EndOfInput):
            reader.read()
    finally:
        os.close(fd)
    assert got == messages


@given(json_values)
def test_stream_reader_and_encode_agree(message: object) -> None:
    frame = framing.encode(message, 1 << 20)
    assert struct.unpack("=I", frame[:4])[0] == len(frame) - 4
    assert framing.decode(framing.read_frame(io.BytesIO(frame), 1 << 20)) == message


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=64))
def test_truncated_frames_are_end_of_input(payload: bytes, cut: int) -> None:
    frame = struct.pack("=I", len(payload) + cut) + payload  # announces more than it has
    fd = _pipe_with(frame)
    try:
        with pytest.raises(framing.EndOfInput):
            FrameReader(fd, 1 << 20).read()
    finally:
        os.close(fd)


@given(st.integers(min_value=1025, max_value=2**32 - 1))
@settings(max_examples=50)
def test_over_the_cap_is_refused_before_reading(length: int) -> None:
    fd = _pipe_with(struct.pack("=I", length))  # no payload at all: it must not be awaited
    try:
        with pytest.raises(framing.FrameError) as info:
            FrameReader(fd, 1024).read()
    finally:
        os.close(fd)
    assert info.value.code == "frame_too_large"


@given(st.binary(max_size=200))
def test_hostile_payloads_get_a_code_never_a_crash(payload: bytes) -> None:
    try:
        framing.decode(payload)
    except framing.FrameError as exc:
        assert exc.code in {"invalid_utf8", "invalid_json"}


def test_invalid_utf8_and_json_codes() -> None:
    with pytest.raises(framing.FrameError) as bad_utf8:
        framing.decode(b"\xff\xfe{")
    with pytest.raises(framing.FrameError) as bad_json:
        framing.decode(b'{"id": 1,')
    assert (bad_utf8.value.code, bad_json.value.code) == ("invalid_utf8", "invalid_json")


def test_replies_over_the_limit_are_refused() -> None:
    big = {"x": "a" * 2000}
    with pytest.raises(ValueError):
        framing.encode(big, 1000)
    assert len(framing.encode(big, 4000)) == 4 + len(json.dumps(big, separators=(",", ":")))


def test_group_commit_sees_frames_that_arrived_together() -> None:
    frames = b"".join(framing.encode({"n": n}, 1 << 20) for n in range(3))
    fd = _pipe_with(frames)
    try:
        reader = FrameReader(fd, 1 << 20)
        first = framing.decode(reader.read())
        assert reader.has_complete_frame()
        rest = [framing.decode(reader.read()), framing.decode(reader.read())]
        assert not reader.has_complete_frame()
    finally:
        os.close(fd)
    assert [first, *rest] == [{"n": 0}, {"n": 1}, {"n": 2}]


def _nested(depth: int, kind: str) -> bytes:
    opening, closing = ("[", "]") if kind == "array" else ('{"a":', "}")
    return (opening * depth + "0" + closing * depth).encode()


@pytest.mark.parametrize("kind", ["array", "object"])
def test_nesting_up_to_the_limit_decodes_and_deeper_is_refused(kind: str) -> None:
    assert framing.decode(_nested(framing.MAX_NESTING, kind)) is not None
    for depth in (framing.MAX_NESTING + 1, 5000, 100_000):
        with pytest.raises(framing.FrameError) as info:
            framing.decode(_nested(depth, kind))
        assert info.value.code == "invalid_request"


def test_an_unclosed_deep_frame_is_refused_not_a_crash() -> None:
    with pytest.raises(framing.FrameError) as info:
        framing.decode(b"[" * 200_000)
    assert info.value.code == "invalid_request"


@given(json_values)
def test_every_shallow_json_value_decodes_to_itself(message: object) -> None:
    payload = json.dumps(message).encode()
    assert framing.decode(payload) == message
