"""Session behaviour in-process through a fake transport: the same messages as over a socket, in a fraction of the time.

These pin dispatch, a context's stream, the cancel fence, engine problems mapped at the
edge and the metrics reported once per stream; tests/server keeps the end-to-end ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from realtime.backend import TTSBackend
from realtime.config import Limits
from realtime.metrics import Metrics
from realtime.session.capacity import SessionSlots
from realtime.session.session import Session
from tests.conftest import run
from tests.support.fake_transport import FakeTransport
from tests.support.stream_checks import check_timeline, of_ctx
from tests.test_metrics import sample

START = {"type": "session.start", "protocol_version": 1, "format": "pcm", "sample_rate": 24000, "seed": 5}


@asynccontextmanager
async def session(metrics: Metrics | None = None) -> AsyncIterator[tuple[FakeTransport, asyncio.Task[None]]]:
    backend = TTSBackend(engine_threads=1)
    await backend.initialize()
    transport = FakeTransport()
    limits = Limits()
    task = asyncio.create_task(Session(transport, backend, SessionSlots(4), limits=limits, metrics=metrics).run())
    try:
        yield transport, task
    finally:
        transport.leave()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30)
        await backend.shutdown()


def in_session(body: Callable[[FakeTransport, asyncio.Task[None]], Awaitable[None]], metrics: Metrics | None = None) -> None:
    async def main() -> None:
        async with session(metrics) as (transport, task):
            await body(transport, task)

    run(main())


def _is(kind: str, **fields: object) -> Callable[[dict[str, object]], bool]:
    return lambda m: m.get("type") == kind and all(m.get(k) == v for k, v in fields.items())


def test_a_cancel_landing_as_the_start_frame_arrives_ends_the_session() -> None:
    """The server cancels a session (shutdown) in the very loop step its session.start arrives.
    On Python 3.11 `asyncio.wait_for` returns the result of an awaitable that completes as its
    task is cancelled, losing the cancel: the session then started and ran on."""

    async def main() -> None:
        backend = TTSBackend(engine_threads=1)
        await backend.initialize()
        transport = FakeTransport()
        task = asyncio.create_task(Session(transport, backend, SessionSlots(4), limits=Limits()).run())
        try:
            await asyncio.wait_for(transport.receiving.wait(), 10)
            transport.push(START)  # the frame arrives ...
            task.cancel()  # ... and the cancel lands in the same step
            done, _ = await asyncio.wait({task}, timeout=10)
            assert task in done and task.cancelled()
            assert not any(m.get("type") == "session.ready" for m in transport.sent)
        finally:
            transport.leave()
            await asyncio.gather(task, return_exceptions=True)
            await backend.shutdown()

    run(main())


def test_a_text_is_spoken_as_one_gapless_stream_and_metered_once() -> None:
    metrics = Metrics()

    async def body(transport: FakeTransport, _: asyncio.Task[None]) -> None:
        transport.push(START)
        await transport.wait_for(_is("session.ready"))
        transport.push({"type": "text", "text": "Hello there. How are you?"})
        transport.push({"type": "end"})
        done = await transport.wait_for(_is("done", ctx="main"))
        assert done["reason"] == "end" and done["segments"] == 2 and done["seed"] == 5
        audio = [m for m in of_ctx(transport.sent, "main") if m["type"] == "audio"]
        check_timeline(audio, 24000)
        assert abs(done["audio_ms"] - (audio[-1]["timestamp_ms"] + audio[-1]["duration_ms"])) < 1e-6
        # the stream's meter reported it once: the `done` figures and the metrics agree
        assert sample(metrics, "realtime_tts_time_to_first_audio_seconds_count", transport="websocket") == 1
        assert abs(sample(metrics, "realtime_tts_audio_seconds_total", transport="websocket") - done["audio_ms"] / 1000) < 1e-6

    in_session(body, metrics)


def test_an_unknown_message_type_is_a_non_fatal_4100_and_the_session_goes_on() -> None:
    async def body(transport: FakeTransport, task: asyncio.Task[None]) -> None:
        transport.push(START)
        await transport.wait_for(_is("session.ready"))
        transport.push({"type": "x" * 500})
        error = await transport.wait_for(_is("error"))
        assert error["code"] == 4100 and error["fatal"] is False
        assert "'" + "x" * 64 + "'..." in error["message"] and "x" * 65 not in error["message"]  # quoted briefly
        transport.push({"type": "ping", "t": 1.5})
        assert (await transport.wait_for(_is("pong")))["t"] == 1.5
        assert not task.done()

    in_session(body)


def test_cancel_fences_the_stream_with_one_is_last_then_cancelled_then_done() -> None:
    async def body(transport: FakeTransport, _: asyncio.Task[None]) -> None:
        transport.push(START)
        await transport.wait_for(_is("session.ready"))
        transport.push({"type": "text", "text": "One sentence after another. " * 20})
        await transport.wait_for(_is("audio", ctx="main"))
        transport.push({"type": "cancel", "ctx": "main"})
        done = await transport.wait_for(_is("done", ctx="main"))
        assert done["reason"] == "cancelled"
        stream = of_ctx(transport.sent, "main")
        kinds = [m["type"] for m in stream]
        assert kinds.index("cancelled") < kinds.index("done") == len(kinds) - 1
        audio = [m for m in stream if m["type"] == "audio"]
        check_timeline(audio, 24000)
        assert kinds.index("cancelled") > max(i for i, kind in enumerate(kinds) if kind == "audio")

    in_session(body)


def test_an_engine_problem_is_mapped_to_its_protocol_code_at_the_edge() -> None:
    async def body(transport: FakeTransport, task: asyncio.Task[None]) -> None:
        transport.push({**START, "speaker": "nobody", "language": "german"})
        error = await transport.wait_for(_is("error"))
        # the engine's UNKNOWN_SPEAKER (4104) and UNKNOWN_LANGUAGE (4000): one error, the more basic code leads
        assert error["fatal"] is True and error["code"] == 4000 and error["name"] == "bad_message"
        assert sorted(error["fields"]) == ["language", "speaker"] and "heart" in error["message"]
        assert await transport.wait_closed() == 4000
        await asyncio.wait_for(task, 30)

    in_session(body)
