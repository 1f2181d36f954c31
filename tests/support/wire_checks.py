"""Assertions on what the server sends, shared by the error and bad-input tests."""

from __future__ import annotations

from typing import Any

from realtime.protocol import codec
from tests.wire import Wire, audio_of

# The error table of PROTOCOL.md, copied here so the tests pin the document, not the enum.
ERROR_NAMES = {
    1003: "text_frame",
    1009: "message_too_big",
    1011: "internal_error",
    1013: "over_capacity",
    4000: "bad_message",
    4001: "unauthorized",
    4003: "forbidden_origin",
    4008: "timeout",
    4100: "bad_request",
    4101: "too_many_contexts",
    4102: "text_too_long",
    4103: "bad_reference_audio",
    4104: "unknown_voice",
    4105: "generation_failed",
}

SHORT_TEXT = "Hi."


def check_error(message: dict[str, Any], code: int, *, fatal: bool, ctx: str | None = None) -> dict[str, Any]:
    """`message` is an `error` with this code, its protocol name, this fatal flag and (when given) ctx."""
    assert message.get("type") == "error", message
    assert message["code"] == code, message
    assert message["name"] == ERROR_NAMES[code], message
    assert message["fatal"] is fatal, message
    assert isinstance(message["message"], str) and message["message"], message
    if ctx is not None:
        assert message.get("ctx") == ctx, message
    return message


async def expect_fatal(wire: Wire, code: int, timeout: float = 20.0) -> dict[str, Any]:
    """The server sends one fatal `error` with `code`, then closes with the same code."""
    messages, close_code = await wire.closed_with(timeout)
    errors = [m for m in messages if m.get("type") == "error"]
    assert errors, (messages, close_code)
    assert len(errors) == 1, messages
    assert messages[-1] is errors[0], messages  # nothing after the fatal error
    check_error(errors[0], code, fatal=True)
    assert close_code == code, (close_code, messages)
    return errors[0]


async def expect_error(wire: Wire, code: int, *, ctx: str | None = None, timeout: float = 20.0) -> dict[str, Any]:
    """The next message is a non-fatal `error` with `code` (and ctx, when given)."""
    return check_error(await wire.recv(timeout), code, fatal=False, ctx=ctx)


async def speaks(wire: Wire, ctx: str = "main", text: str = SHORT_TEXT) -> list[dict[str, Any]]:
    """This session still serves: a short text and `end` give audio ending with is_last, then done(end)."""
    await wire.send({"type": "text", "ctx": ctx, "text": text})
    await wire.send({"type": "end", "ctx": ctx})
    messages = await wire.until_done(ctx)
    assert not [m for m in messages if m.get("type") == "error"], messages
    chunks = audio_of(messages, ctx)
    assert chunks, messages
    assert [c["is_last"] for c in chunks].count(True) == 1 and chunks[-1]["is_last"], chunks
    assert sum(len(c["data"]) for c in chunks) > 0
    done = messages[-1]
    assert done["reason"] == "end", done
    assert done["segments"] >= 1, done
    return messages


async def fresh_session_speaks(url: str, **start: Any) -> None:
    """The server still serves: a new connection starts and completes a short synthesis."""
    wire = await Wire.open(url)
    try:
        await wire.start(**start)
        await speaks(wire)
    finally:
        await wire.close()


def frame_of_size(size: int, message: dict[str, Any] | None = None) -> bytes:
    """`message` (default a session.start) packed with an ignored `pad` key so the frame is exactly `size` bytes."""
    base = dict(message or {"type": "session.start"})
    pad = max(0, size - len(codec.pack(base)) - 16)
    for _ in range(8):
        frame = codec.pack({**base, "pad": b"\x00" * pad})
        if len(frame) == size:
            return frame
        pad += size - len(frame)
    raise AssertionError(f"cannot pad a frame to {size} bytes")
