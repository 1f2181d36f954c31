from __future__ import annotations

import pytest

from realtime.protocol.codec import FrameDecodeError, pack, unpack


def test_bytes_travel_as_bin_and_round_trip() -> None:
    frame = pack({"type": "audio", "data": b"\x00\x01"})
    assert b"\xc4\x02\x00\x01" in frame  # msgpack bin 8, not a str or an array
    assert unpack(frame) == {"type": "audio", "data": b"\x00\x01"}


@pytest.mark.parametrize(
    "frame",
    [b"", b"\xc1", b"\x81", b"\x93\x01", b"\xdd\xff\xff\xff\xff", b"\x91" * 2000 + b"\xc0", pack({"a": 1}) + b"\x00"],
)
def test_anything_but_one_msgpack_value_is_a_decode_error(frame: bytes) -> None:
    with pytest.raises(FrameDecodeError):
        unpack(frame)
