"""SpeechPipeline: a prepared voice plus a whole text as one encoded stream, metered once (HTTP's body)."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.backend import TTSBackend
from realtime.engines.voice_spec import VoiceSpec
from realtime.metrics import Metrics
from realtime.pipeline.speech import OutputPlan, SpeechPipeline
from realtime.pipeline.words import SegmentWordsEvent
from tests.support.codecs import decode_at
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
