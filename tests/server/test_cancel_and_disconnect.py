"""Barge-in, clients going away and session.end, over a real server and socket."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable

import pytest

from realtime.server.run import BackgroundServer
from tests.conftest import run
from tests.support.counting_engine import CountingEngine, counting_backend, wait_until_steady
from tests.support.stream_checks import (
    check_timeline,
    check_wav_stream,
    of_ctx,
    ping_fence,
    small_buffer_socket,
    types_of,
)
from tests.wire import Wire, audio_of

LONG_TEXT = " ".join(f"This is sentence number {i} of a long story that goes on and on." for i in range(60))
STEP_S = 0.01  # the counting engine's time per chunk: generation is slow enough to be caught midway
CHUNKS_PER_WORD = 4
WHOLE_TEXT_CHUNKS = CHUNKS_PER_WORD * len(LONG_TEXT.split())  # what one context would make for LONG_TEXT
STOP_WITHIN_S = 0.3  # "within one engine step", plus noticing the disconnect, on a loaded machine


def _first_audio(ctx: str) -> Callable[[dict], bool]:
    return lambda m: m["type"] == "audio" and m["ctx"] == ctx


def check_cancelled_stream(messages: list[dict], ctx: str, sample_rate: int = 24000, format: str = "pcm") -> None:
    """cancelled then done(cancelled); no audio after cancelled; one valid stream with one is_last."""
    own = of_ctx(messages, ctx)
    kinds = types_of(own)
    assert kinds.count("cancelled") == 1, kinds
    fence = kinds.index("cancelled")
    assert kinds[fence + 1 :] == ["done"], kinds[fence:]
    assert own[-1]["reason"] == "cancelled"
    chunks = audio_of(own, ctx)
    assert all(kind != "audio" for kind in kinds[fence:])
    check_timeline(chunks, sample_rate, format)  # the terminal chunk (is_last) precedes cancelled
    assert own[-1]["audio_ms"] == pytest.approx(sum(c["duration_ms"] for c in chunks), abs=1e-6)
    if format == "wav":
        check_wav_stream(chunks, sample_rate)


async def _slots_back_to(running: BackgroundServer, value: int, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while running.app.state.slots.active != value:
        assert time.monotonic() < deadline, f"slots.active stays {running.app.state.slots.active}"
        await asyncio.sleep(0.02)


# -- cancel ------------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["pcm", "wav"])
@pytest.mark.parametrize("end_first", [False, True])
def test_cancel_mid_generation_fences_the_stream(server, format: str, end_first: bool) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=4, format=format)
        await wire.send({"type": "text", "text": LONG_TEXT})
        if end_first:
            await wire.send({"type": "end"})
        before = await wire.until(_first_audio("main"))
        await wire.send({"type": "cancel"})
        messages = before + await wire.until_done()
        trailing = await ping_fence(wire)
        await wire.close()
        check_cancelled_stream(messages, "main", format=format)
        assert types_of(of_ctx(trailing, "main")) == []
        # it was cut short: far less than the whole text's audio
        assert messages[-1]["audio_ms"] < 60_000

    run(body())


def test_cancel_stops_the_engine_and_the_session_goes_on(make_server) -> None:
    engine = CountingEngine(chunks_per_word=CHUNKS_PER_WORD, step_s=STEP_S)
    running = make_server(backend=counting_backend(engine))
    counters = engine.counters

    async def body() -> None:
        wire = await Wire.open(running.url)
        await wire.start(seed=4, model="counting")
        await wire.send({"type": "text", "text": LONG_TEXT})
        await wire.send({"type": "end"})
        before = await wire.until(_first_audio("main"))
        await asyncio.sleep(0.1)  # well into generation
        await wire.send({"type": "cancel", "ctx": "main"})
        messages = before + await wire.until_done()
        at_cancelled = counters.produced
        check_cancelled_stream(messages, "main")
        steady, _ = await wait_until_steady(lambda: counters.produced, settle_s=20 * STEP_S)
        assert steady - at_cancelled <= 1, "the engine kept producing after cancelled"
        assert steady < WHOLE_TEXT_CHUNKS / 10
        assert counters.generators_finished == counters.generators_started
        assert counters.voices_closed == counters.voices_opened == 1

        # Same name again: a new stream from seq 0, timestamp 0, segment 0.
        await wire.send({"type": "text", "text": "A fresh start."})
        await wire.send({"type": "end"})
        again = await wire.until_done()
        await wire.close()
        check_timeline(audio_of(again), 24000)
        assert [m["segment"] for m in again if m["type"] == "segment"] == [0]
        assert again[-1]["reason"] == "end"

    run(body())


def test_cancel_all_contexts(make_server) -> None:
    engine = CountingEngine(chunks_per_word=CHUNKS_PER_WORD, step_s=STEP_S)
    running = make_server(backend=counting_backend(engine))
    names = ("a", "b", "c")

    async def body() -> None:
        wire = await Wire.open(running.url)
        await wire.start(seed=4, model="counting")
        for ctx in names:
            await wire.send({"type": "text", "ctx": ctx, "text": LONG_TEXT})
        started: set[str] = set()
        messages = await wire.until(lambda m: m["type"] == "audio" and (started.add(m["ctx"]) or started == set(names)))
        await wire.send({"type": "cancel", "ctx": "*"})
        done: set[str] = set()
        messages += await wire.until(lambda m: m["type"] == "done" and (done.add(m["ctx"]) or done == set(names)))
        for ctx in names:
            check_cancelled_stream(messages, ctx)
        at_done = engine.counters.produced
        steady, _ = await wait_until_steady(lambda: engine.counters.produced, settle_s=20 * STEP_S)
        assert steady - at_done <= len(names)
        assert steady < len(names) * WHOLE_TEXT_CHUNKS / 10
        assert engine.counters.generators_finished == engine.counters.generators_started
        assert engine.counters.voices_closed == engine.counters.voices_opened == len(names)
        # The session still works, in any of the names.
        await wire.send({"type": "text", "ctx": "b", "text": "Back again."})
        await wire.send({"type": "end", "ctx": "b"})
        again = await wire.until_done("b")
        check_timeline(audio_of(again, "b"), 24000)
        await wire.close()

    run(body())


def test_cancel_with_nothing_generating_is_answered(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=1)
        await wire.send({"type": "cancel", "ctx": "nobody"})
        reply = await wire.recv()
        assert reply == {"type": "cancelled", "ctx": "nobody"}
        await wire.close()

    run(body())


# -- disconnect --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["close", "abort", "close_while_not_reading"])
def test_disconnect_mid_generation_stops_the_engine_and_frees_the_slot(make_server, how: str) -> None:
    engine = CountingEngine(chunks_per_word=CHUNKS_PER_WORD, step_s=STEP_S)
    running = make_server(backend=counting_backend(engine))
    counters = engine.counters

    async def body() -> None:
        wire = await Wire.open(running.url)
        await wire.start(seed=4, model="counting")
        await wire.send({"type": "text", "ctx": "a", "text": LONG_TEXT})
        await wire.send({"type": "text", "ctx": "b", "text": LONG_TEXT})
        await wire.until(_first_audio("b"))
        assert running.app.state.slots.active == 1
        closing = None
        gone_at = time.monotonic()
        if how == "close":
            await wire.close()
        elif how == "abort":  # no closing handshake: the TCP connection just drops
            wire.connection.transport.abort()
        else:
            await asyncio.sleep(0.5)  # the server is blocked on a full socket
            gone_at = time.monotonic()
            # The closing handshake cannot finish while the client reads nothing: do not wait for it.
            closing = asyncio.create_task(wire.close())
        steady, stopped_at = await wait_until_steady(lambda: counters.produced, settle_s=20 * STEP_S)
        assert stopped_at - gone_at < STOP_WITHIN_S, f"the engine went on for {stopped_at - gone_at:.3f} s"
        assert steady < 2 * WHOLE_TEXT_CHUNKS / 10
        assert counters.generators_started >= 2
        assert counters.generators_finished == counters.generators_started
        assert counters.voices_closed == counters.voices_opened == 2
        await _slots_back_to(running, 0)
        if closing is not None:  # the client gives up on the handshake
            wire.connection.transport.abort()
            await asyncio.gather(closing, return_exceptions=True)

        # A new session works afterwards.
        wire = await Wire.open(running.url)
        await wire.start(seed=4, model="counting")
        await wire.send({"type": "text", "text": "After the storm."})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        check_timeline(audio_of(messages), 24000)
        await wire.close()
        await _slots_back_to(running, 0)

    run(body())


# -- session.end -------------------------------------------------------------------------------


def test_session_end_finishes_every_context_then_closes_1000(server) -> None:
    texts = {"main": "The first voice speaks. Then it stops.", "npc": "A second voice answers, briefly."}

    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=2, format="wav")
        for ctx, text in texts.items():
            await wire.send({"type": "text", "ctx": ctx, "text": text})
        await wire.send({"type": "end", "ctx": "npc"})  # one already ending, one still open
        await wire.send({"type": "session.end"})
        messages, code = await wire.closed_with()
        assert code == 1000
        for ctx, text in texts.items():
            own = of_ctx(messages, ctx)
            assert own[-1]["type"] == "done" and own[-1]["reason"] == "end"
            chunks = audio_of(own, ctx)
            check_timeline(chunks, 24000, format="wav")
            check_wav_stream(chunks, 24000)
            assert " ".join(m["text"] for m in own if m["type"] == "segment") == text

    run(body())


def test_cancel_of_a_reused_name_leaves_the_earlier_stream_whole(make_server) -> None:
    """The old stream of a name may still have audio queued (slow reader) when the name starts anew."""
    engine = CountingEngine(chunks_per_word=2, chunk_samples=48000)  # 2 s chunks: the socket fills at once
    running = make_server(backend=counting_backend(engine))
    running._socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    counters = engine.counters

    async def body() -> None:
        wire = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        await wire.start(seed=4, model="counting")
        await wire.send({"type": "text", "ctx": "a", "text": "one two three"})
        await wire.send({"type": "end", "ctx": "a"})
        deadline = time.monotonic() + 5
        while not (counters.produced == 6 and counters.generators_finished == 1):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.2)  # the old stream has ended on the server; its last chunks wait to be sent
        await wire.send({"type": "text", "ctx": "a", "text": "four five six seven"})
        await wire.send({"type": "cancel", "ctx": "a"})
        messages = await wire.until(lambda m: m["type"] == "done" and m["reason"] == "cancelled", timeout=30)
        await wire.close()
        own = of_ctx(messages, "a")
        errors = [m for m in messages if m["type"] == "error"]
        assert not errors, errors  # the name was free again: no 4100
        first_done = types_of(own).index("done")
        old, new = own[: first_done + 1], own[first_done + 1 :]
        assert old[-1]["reason"] == "end"
        old_chunks = audio_of(old, "a")
        check_timeline(old_chunks, 24000)
        assert len(old_chunks) == 6 and sum(len(c["data"]) for c in old_chunks) == 6 * 48000 * 2
        check_cancelled_stream(new, "a")

    run(body())


@pytest.mark.parametrize("format", ["pcm", "wav"])
def test_cancel_before_any_audio_still_closes_the_stream(server, format: str) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=4, format=format)
        await wire.send({"type": "text", "text": LONG_TEXT})
        await wire.send({"type": "cancel"})
        messages = await wire.until_done()
        await wire.close()
        check_cancelled_stream(messages, "main", format=format)  # for wav: a valid (maybe empty) file

    run(body())
