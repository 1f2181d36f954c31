"""Nothing a client sends can crash a session: property-based messages, in-process through a fake transport.

Messages are built from the protocol's own types and field names with values of every
shape (tests/support/fuzz.py); frames are also arbitrary msgpack values and arbitrary
bytes. After `session.ready` a map may only ever earn non-fatal errors, and a frame that is
not msgpack a fatal 4000; `session.start` may be refused, but only with a protocol error,
never `internal_error`. Budgets are fixed and derandomized.

The same Session a server runs, without a socket: one backend and one event loop serve
every example, so a budget buys examples instead of connections. tests/server/test_fuzz.py
keeps a smaller budget of the same properties over a real socket.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.backend import TTSBackend
from realtime.config import Limits
from realtime.protocol import codec
from realtime.protocol.errors import ErrorCode
from realtime.session.capacity import SessionSlots
from realtime.session.session import Session
from tests.support.fake_transport import FakeTransport, Message
from tests.support.fuzz import MESSAGE_TYPES, fuzz_settings, messages, values

START_REFUSALS = {ErrorCode.BAD_MESSAGE, ErrorCode.BAD_REFERENCE_AUDIO, ErrorCode.UNKNOWN_VOICE, ErrorCode.TEXT_TOO_LONG}
AFTER_READY = tuple(kind for kind in MESSAGE_TYPES if kind != "session.end")
EXAMPLE_TIMEOUT_S = 60.0

Body = Callable[[FakeTransport, "asyncio.Task[None]"], Awaitable[None]]


class SessionRunner:
    """One event loop and one loaded backend for every example of a module: each example is one fresh Session."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()
        self.backend = TTSBackend(engine_threads=1)
        self._runner.run(self.backend.initialize())
        self._tokens = itertools.count(1)

    def token(self) -> int:
        return next(self._tokens)

    def run(self, body: Body) -> None:
        async def example() -> None:
            transport = FakeTransport()
            task = asyncio.create_task(Session(transport, self.backend, SessionSlots(4), limits=Limits()).run())
            try:
                await body(transport, task)
            finally:
                transport.leave()
                [ended] = await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), EXAMPLE_TIMEOUT_S)
            assert ended is None, ended  # Session.run itself never raises: it reports, closes and returns

        self._runner.run(asyncio.wait_for(example(), EXAMPLE_TIMEOUT_S))

    def close(self) -> None:
        self._runner.run(self.backend.shutdown())
        self._runner.close()


@pytest.fixture(scope="module")
def sessions() -> Iterator[SessionRunner]:
    runner = SessionRunner()
    yield runner
    runner.close()


def _is(kind: str, **fields: object) -> Callable[[Message], bool]:
    return lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())


async def _start(transport: FakeTransport) -> None:
    transport.push({"type": "session.start", "seed": 1})
    await transport.wait_for(_is("session.ready"))


async def ping_fence(transport: FakeTransport, token: int) -> list[Message]:
    """Everything the session sent before answering this ping (from the start of the session)."""
    transport.push({"type": "ping", "t": token})
    pong = await transport.wait_for(_is("pong", t=token))
    return transport.sent[: transport.sent.index(pong)]


def _only_non_fatal(replies: list[Message], sent: object) -> None:
    for reply in replies:
        if reply.get("type") == "error":
            assert reply["fatal"] is False and reply["code"] != ErrorCode.INTERNAL_ERROR, (sent, reply)


def _not_msgpack(frame: bytes) -> bool:
    try:
        codec.unpack(frame)
    except codec.FrameDecodeError:
        return True
    return False


@fuzz_settings(max_examples=40)
@given(batch=st.lists(messages(AFTER_READY), min_size=1, max_size=8))
def test_any_messages_after_ready_only_ever_earn_non_fatal_errors(sessions: SessionRunner, batch: list[dict[Any, Any]]) -> None:
    async def body(transport: FakeTransport, task: asyncio.Task[None]) -> None:
        await _start(transport)
        for item in batch:
            transport.push_raw(codec.pack(item))
        _only_non_fatal(await ping_fence(transport, sessions.token()), batch)  # the session still answers, in order
        transport.push({"type": "cancel", "ctx": "*"})
        _only_non_fatal(await ping_fence(transport, sessions.token()), batch)
        assert not task.done() and transport.closed_with is None, transport.sent[-3:]

    sessions.run(body)


@fuzz_settings(max_examples=40)
@given(frame=st.one_of(st.binary(max_size=64), values().map(lambda value: codec.pack(value))))  # type: ignore[arg-type]
def test_any_frame_after_ready_is_answered_and_only_broken_msgpack_ends_the_session(
    sessions: SessionRunner, frame: bytes
) -> None:
    async def body(transport: FakeTransport, task: asyncio.Task[None]) -> None:
        await _start(transport)
        transport.push_raw(frame)
        if _not_msgpack(frame):
            assert await transport.wait_closed() == ErrorCode.BAD_MESSAGE, (frame, transport.sent)
            [error] = [m for m in transport.sent if m.get("type") == "error"]
            assert error["code"] == ErrorCode.BAD_MESSAGE and error["fatal"] is True and transport.sent[-1] is error
        else:
            _only_non_fatal(await ping_fence(transport, sessions.token()), frame)
            assert transport.closed_with is None

    sessions.run(body)


@fuzz_settings(max_examples=60)
@given(start=messages(("session.start",)))
def test_any_session_start_is_answered_or_refused_with_a_protocol_error(sessions: SessionRunner, start: dict[Any, Any]) -> None:
    async def body(transport: FakeTransport, task: asyncio.Task[None]) -> None:
        transport.push_raw(codec.pack(start))
        reply = await transport.wait_for(lambda m: m.get("type") in ("error", "session.ready"))
        assert transport.sent[0] is reply, transport.sent  # the first thing sent
        if reply["type"] == "error":
            assert reply["fatal"] is True and reply["code"] in START_REFUSALS, (start, reply)
            assert await transport.wait_closed() == reply["code"]
        else:
            assert transport.closed_with is None

    sessions.run(body)
