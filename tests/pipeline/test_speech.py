"""SpeechPipeline: one stream of one voice request, segment by segment, delivered when the door says, metered once."""

from __future__ import annotations

from contextlib import aclosing

import numpy as np
import pytest

from realtime.backend import TTSBackend
from realtime.engines.voice_spec import VoiceSpec
from realtime.metrics import Metrics
from realtime.engines.base import GenerationError
from realtime.pipeline.output import PendingAudio
from realtime.pipeline.speech import OutputPlan, SegmentStarted, SpeechPipeline, StreamNotice
from realtime.pipeline.words import SegmentWordsEvent
from realtime.segmenter import Segment
from tests.support.codecs import decode_at
from tests.support.engines import FAIL_MARK
from tests.test_metrics import sample


@pytest.fixture(scope="module")
def backend():  # type: ignore[no-untyped-def]
    import asyncio

    loop = asyncio.new_event_loop()
    instance = TTSBackend(engine_threads=1)
    loop.run_until_complete(instance.initialize())
    yield instance, loop
    loop.run_until_complete(instance.shutdown())
    loop.close()


def _speak(backend, plan: OutputPlan, text: str = "Hello there. How are you today?"):  # type: ignore[no-untyped-def]
    instance, loop = backend

    async def body() -> tuple[SpeechPipeline, list[bytes | SegmentWordsEvent]]:
        request, problems = await instance.bind_voice(VoiceSpec(seed=7), 7)
        assert request is not None, problems
        pipeline = SpeechPipeline(instance, request, plan)
        return pipeline, [piece async for piece in pipeline.encoded(text)]

    return loop.run_until_complete(body())


@pytest.mark.parametrize("fmt", ["pcm", "flac"])
def test_the_pieces_are_one_stream_at_the_asked_rate_and_the_meter_matches_it(backend, fmt: str) -> None:  # type: ignore[no-untyped-def]
    pipeline, pieces = _speak(backend, OutputPlan(fmt, 16000, 1.0, 200))
    data = b"".join(piece for piece in pieces if isinstance(piece, bytes))
    assert pipeline.output.closed and pipeline.output.samples > 16000 // 2
    assert len(decode_at(data, fmt, 16000)) == pipeline.output.samples  # lossless: every encoded sample decodes
    meter = pipeline.meter
    assert meter.audio_s == pipeline.output.samples / 16000
    assert meter.ttfa_s is not None and meter.ttfa_s >= 0 and meter.rtf is not None and meter.rtf > 0
    metrics = Metrics()
    meter.report(metrics, "http")
    meter.report(metrics, "http")
    assert sample(metrics, "realtime_tts_time_to_first_audio_seconds_count", transport="http") == 1
    assert sample(metrics, "realtime_tts_audio_seconds_total", transport="http") == meter.audio_s


def test_tempo_makes_the_stream_shorter_and_words_follow_each_segment(backend) -> None:  # type: ignore[no-untyped-def]
    normal, _ = _speak(backend, OutputPlan("pcm", 24000, 1.0, 200))
    faster, pieces = _speak(backend, OutputPlan("pcm", 24000, 2.0, 20, timestamps="word"))
    assert abs(faster.output.samples - normal.output.samples / 2) < normal.output.samples * 0.1
    events = [piece for piece in pieces if isinstance(piece, SegmentWordsEvent)]
    assert [event.segment for event in events] == list(range(len(events))) and len(events) >= 2
    assert np.isclose(faster.meter.audio_s, faster.output.samples / 24000)


def _faulty_backend():  # type: ignore[no-untyped-def]
    import asyncio

    from tests.support.engines import FaultyEngine

    loop = asyncio.new_event_loop()
    instance = TTSBackend([FaultyEngine(threads=1)], engine_threads=1)
    loop.run_until_complete(instance.initialize())
    return instance, loop


def _pipeline(instance: TTSBackend, plan: OutputPlan, **options):  # type: ignore[no-untyped-def]
    async def build() -> SpeechPipeline:
        voice_request, problems = await instance.bind_voice(VoiceSpec(model=instance.models()[0].name, seed=7), 7)
        assert voice_request is not None, problems
        pipeline = SpeechPipeline(instance, voice_request, plan, **options)
        await pipeline.open()
        return pipeline

    return build()


def test_audio_is_shaped_as_made_but_encoded_only_when_delivered(backend) -> None:  # type: ignore[no-untyped-def]
    """The socket's property: what a cancel drops before delivery never reaches the encoder."""
    instance, loop = backend

    async def body() -> None:
        pipeline = await _pipeline(instance, OutputPlan("flac", 16000, 1.0, 200))
        events = [event async for event in pipeline.speak(Segment("Hello there.", 0, 12), ends_stream=lambda: True)]
        pipeline.close()
        assert isinstance(events[0], SegmentStarted) and events[0].text == "Hello there."
        audio = [event for event in events if isinstance(event, PendingAudio)]
        assert audio and audio[-1].segment_end and audio[-1].is_last
        assert pipeline.output.samples == 0 and not pipeline.output.closed  # nothing encoded yet
        assert pipeline.closing_chunk() is None  # the segment's last chunk closes the stream
        delivered = [await pipeline.deliver(pending) for pending in audio]
        assert all(chunk is not None for chunk in delivered) and pipeline.output.closed
        assert [chunk.seq for chunk in delivered if chunk] == list(range(len(audio)))
        assert pipeline.output.samples == sum(len(pending.samples) for pending in audio)
        assert pipeline.meter.ttfa_s is None  # no text_ready(): the door says when its clock starts

    loop.run_until_complete(body())


def test_a_cancel_drops_undelivered_audio_and_the_closing_chunk_still_closes_the_stream(backend) -> None:  # type: ignore[no-untyped-def]
    instance, loop = backend

    async def body() -> None:
        words: list[SegmentWordsEvent] = []

        async def collect(event: SegmentWordsEvent) -> None:
            words.append(event)

        pipeline = await _pipeline(instance, OutputPlan("wav", 24000, 1.0, 200, timestamps="word"), on_words=collect)
        first = pipeline.speak(Segment("One sentence here.", 0, 18), ends_stream=lambda: False)
        async for event in first:
            if isinstance(event, PendingAudio):
                assert (await pipeline.deliver(event)) is not None
        second = pipeline.speak(Segment("And a second one.", 19, 36))
        started = await anext(second)  # the first segment's words were handed on before it
        assert isinstance(started, SegmentStarted) and started.segment == 1 and [w.segment for w in words] == [0]
        assert isinstance(await anext(second), PendingAudio)  # queued, never delivered: a cancel drops it
        pipeline.interrupt()
        await second.aclose()
        await pipeline.stop_words()
        pipeline.close()
        pipeline.forget_queued()
        closing = pipeline.closing_chunk()
        assert closing is not None and closing.is_last and not closing.segment_end and closing.segment == 1
        delivered = await pipeline.deliver(closing)
        assert delivered is not None and delivered.is_last and pipeline.output.closed
        assert pipeline.closing_chunk() is None  # exactly one chunk closes a stream

    loop.run_until_complete(body())


def test_a_segment_the_engine_fails_on_is_skipped_with_a_notice_and_three_in_a_row_fail_the_stream() -> None:
    instance, loop = _faulty_backend()

    async def body() -> None:
        pipeline = await _pipeline(instance, OutputPlan("pcm", 24000, 1.0, 200))
        spoken = [event async for event in pipeline.speak(Segment("Fine words.", 0, 11))]
        assert any(isinstance(event, PendingAudio) and len(event.samples) for event in spoken)
        for attempt in range(2):
            events = [event async for event in pipeline.speak(Segment(f"{FAIL_MARK} {attempt}.", 0, 7))]
            assert [type(event) for event in events] == [SegmentStarted, PendingAudio, StreamNotice]
            assert events[1].segment_end and "could not be spoken and was skipped" in events[2].message
        with pytest.raises(GenerationError):
            async for _ in pipeline.speak(Segment(f"{FAIL_MARK} 3.", 0, 7)):
                pass
        pipeline.close()
        # A whole text none of whose segments could be spoken fails at once (HTTP answers 500).
        whole = await _pipeline(instance, OutputPlan("pcm", 24000, 1.0, 200))
        with pytest.raises(GenerationError):
            async for _ in whole.speak(Segment(f"{FAIL_MARK}.", 0, 5), last_of_text=True):
                pass
        whole.close()

    try:
        loop.run_until_complete(body())
    finally:
        loop.run_until_complete(instance.shutdown())
        loop.close()


def test_a_cancel_while_the_next_segment_starts_behind_pending_words_stops_it_cleanly() -> None:
    """The next segment's first step runs while the previous words settle; a cancel then ends it cleanly."""
    import asyncio

    from tests.support.engines import PacedEngine

    loop = asyncio.new_event_loop()
    instance = TTSBackend([PacedEngine(pace_s=1.0, threads=1)], engine_threads=1)
    loop.run_until_complete(instance.initialize())

    async def body() -> None:
        async def hand_on(event: SegmentWordsEvent) -> None:
            pass

        pipeline = await _pipeline(instance, OutputPlan("pcm", 24000, 1.0, 200, timestamps="word"), on_words=hand_on)
        async for _ in pipeline.speak(Segment("First line.", 0, 11)):
            pass
        started = asyncio.Event()

        async def second() -> None:
            async with aclosing(pipeline.speak(Segment("Second line.", 12, 24))) as events:
                async for event in events:
                    if isinstance(event, SegmentStarted):
                        started.set()  # the words settled; the paced first step is still running

        task = asyncio.create_task(second())
        await asyncio.wait_for(started.wait(), 30)
        pipeline.interrupt()
        task.cancel()
        outcome = (await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 30))[0]
        assert isinstance(outcome, asyncio.CancelledError), outcome  # no error from closing the stopped step
        assert not pipeline.generating
        pipeline.close()

    try:
        loop.run_until_complete(body())
    finally:
        loop.run_until_complete(instance.shutdown())
        loop.close()
