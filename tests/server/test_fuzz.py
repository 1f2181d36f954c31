"""Nothing a client sends can crash a session or the server: property-based messages over the real socket.

Messages are built from the protocol's own types and field names with values of every
shape (tests/support/fuzz.py); frames are also arbitrary msgpack values and arbitrary
bytes. After `session.ready` a map may only ever earn non-fatal errors, and a frame that is
not msgpack a fatal 4000; `session.start` may be refused, but only with a protocol error,
never `internal_error`. Budgets are fixed and derandomized.

The large budgets run in-process (tests/session/test_session_fuzz.py: the same Session,
no socket); these few examples keep the same properties over a real server and socket,
through uvicorn's frames and the server's transport.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from realtime.protocol import codec
from realtime.protocol.errors import ErrorCode
from tests.conftest import run
from tests.support.fuzz import MESSAGE_TYPES, fuzz_settings, messages, values
from tests.support.stream_checks import ping_fence
from tests.support.wire_checks import speaks
from tests.wire import Wire

START_REFUSALS = {ErrorCode.BAD_MESSAGE, ErrorCode.BAD_REFERENCE_AUDIO, ErrorCode.UNKNOWN_VOICE, ErrorCode.TEXT_TOO_LONG}
AFTER_READY = tuple(kind for kind in MESSAGE_TYPES if kind != "session.end")


def _only_non_fatal(replies: list[dict[str, Any]], sent: object) -> None:
    for reply in replies:
        if reply.get("type") == "error":
            assert reply["fatal"] is False and reply["code"] != ErrorCode.INTERNAL_ERROR, (sent, reply)


@fuzz_settings(max_examples=8)
@given(batch=st.lists(messages(AFTER_READY), min_size=1, max_size=8))
def test_any_messages_after_ready_only_ever_earn_non_fatal_errors(server, batch: list[dict[Any, Any]]) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        try:
            await wire.start(seed=1)
            for item in batch:
                await wire.send(item)
            _only_non_fatal(await ping_fence(wire), batch)  # the session still answers, in order
            await wire.send({"type": "cancel", "ctx": "*"})
            _only_non_fatal(await ping_fence(wire, token=8), batch)
        finally:
            await wire.close()

    run(body())


@fuzz_settings(max_examples=8)
@given(frame=st.one_of(st.binary(max_size=64), values().map(lambda value: codec.pack(value))))  # type: ignore[arg-type]
def test_any_frame_after_ready_is_answered_and_only_broken_msgpack_ends_the_session(server, frame: bytes) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        try:
            await wire.start(seed=1)
            await wire.send_raw(frame)
            await wire.send({"type": "ping", "t": 1})
            messages, code = await wire.closed_with() if _not_msgpack(frame) else (await wire.until(
                lambda m: m.get("type") == "pong"), None)
            if code is not None:
                assert code == ErrorCode.BAD_MESSAGE, (frame, messages, code)
            else:
                _only_non_fatal(messages, frame)
        finally:
            await wire.close()

    run(body())


def _not_msgpack(frame: bytes) -> bool:
    try:
        codec.unpack(frame)
    except codec.FrameDecodeError:
        return True
    return False


@fuzz_settings(max_examples=10)
@given(start=messages(("session.start",)))
def test_any_session_start_is_answered_or_refused_with_a_protocol_error(server, start: dict[Any, Any]) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        try:
            await wire.send(start)
            reply = await wire.recv()
            if reply["type"] == "error":
                assert reply["fatal"] is True and reply["code"] in START_REFUSALS, (start, reply)
            else:
                assert reply["type"] == "session.ready", (start, reply)
        finally:
            await wire.close()

    run(body())


def test_a_session_still_speaks_after_the_noise(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=1)
        await wire.send({"type": "text", "ctx": "noise", "text": "\x00\ud7ff" * 10})
        await speaks(wire, ctx="after-the-noise")
        await wire.close()

    run(body())
