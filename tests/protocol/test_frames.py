from __future__ import annotations

import pytest

from realtime.protocol.codec import pack
from realtime.protocol.errors import ErrorCode, ProtocolError
from realtime.protocol.frames import decode_frame


def error_of(data: bytes | None, *, started: bool, max_bytes: int = 100) -> ProtocolError:
    with pytest.raises(ProtocolError) as raised:
        decode_frame(data, max_bytes=max_bytes, started=started)
    return raised.value


@pytest.mark.parametrize("started", [False, True])
def test_text_frames_and_oversized_frames_are_always_fatal(started: bool) -> None:
    assert (error_of(None, started=started).code, error_of(None, started=started).fatal) == (ErrorCode.TEXT_FRAME, True)
    big = error_of(pack({"type": "text", "text": "x" * 200}), started=started)
    assert (big.code, big.fatal) == (ErrorCode.MESSAGE_TOO_BIG, True)


@pytest.mark.parametrize("started", [False, True])
def test_a_frame_that_is_not_msgpack_is_a_fatal_bad_message(started: bool) -> None:
    error = error_of(b"\xc1", started=started)
    assert (error.code, error.fatal) == (ErrorCode.BAD_MESSAGE, True)


def test_a_map_without_type_is_fatal_only_before_ready() -> None:
    before = error_of(pack({"text": "hi"}), started=False)
    after = error_of(pack([1, 2]), started=True)
    assert (before.code, before.fatal) == (ErrorCode.BAD_MESSAGE, True)
    assert (after.code, after.fatal) == (ErrorCode.BAD_REQUEST, False)


def test_a_frame_at_the_limit_is_accepted() -> None:
    frame = pack({"type": "ping", "t": "x" * 80})
    assert decode_frame(frame, max_bytes=len(frame), started=True) == {"type": "ping", "t": "x" * 80}
