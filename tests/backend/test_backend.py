from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile

from realtime.audio.lead_in import LEAD_IN_MS
from realtime.backend import AudioChunk, TTSBackend
from realtime.engines.base import CancelFlag, EngineChunk, Voice, VoiceRequest
from realtime.protocol.messages import VoiceSpec
from tests.conftest import run


async def collect(generator) -> list[AudioChunk]:
    return [chunk async for chunk in generator]


@pytest.fixture(scope="module")
def backend():
    import asyncio

    loop = asyncio.new_event_loop()
    instance = TTSBackend(engine_threads=1)
    loop.run_until_complete(instance.initialize())
    yield instance, loop
    loop.run_until_complete(instance.shutdown())
    loop.close()


def test_custom_voice_streams_chunks_with_one_is_last_and_tiled_timestamps(backend) -> None:
    instance, loop = backend
    chunks = loop.run_until_complete(collect(instance.custom_voice("Hello there. How are you?", seed=3)))
    assert len(chunks) > 2
    assert [c.is_last for c in chunks].count(True) == 1 and chunks[-1].is_last
    position = 0.0
    for chunk in chunks:
        assert isinstance(chunk.data, np.ndarray) and chunk.data.dtype == np.float32
        assert chunk.sample_rate == 24000 and chunk.format == "pcm"
        assert chunk.timestamp_ms == pytest.approx(position)
        position += len(chunk.data) * 1000 / 24000


def test_same_seed_same_audio_other_seed_other_audio(backend) -> None:
    instance, loop = backend

    def audio(seed: int) -> np.ndarray:
        chunks = loop.run_until_complete(collect(instance.custom_voice("Same words.", seed=seed)))
        return np.concatenate([c.data for c in chunks])

    assert np.array_equal(audio(11), audio(11))
    assert not np.array_equal(audio(11), audio(12))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.custom_voice("Hi.", speaker="bob"), "speaker"),
        (lambda b: b.custom_voice("Hi.", seed=True), "seed"),
        (lambda b: b.custom_voice("Hi.", temperature=-1.0), "generation.temperature"),  # out of range (in range: ignored)
        (lambda b: b.custom_voice("Hi.", warmth=0.5), "generation.warmth"),
        (lambda b: b.custom_voice("   "), "text"),
        (lambda b: b.voice_design("Hi.", instruct="a calm voice"), "voice_design"),
        (lambda b: b.voice_clone("Hi.", ref_audio=b"junk", ref_text="hi"), "ref_audio"),
        (lambda b: b.voice_clone("Hi.", ref_audio=b"junk"), "ref_text"),
    ],
)
def test_bad_input_raises_value_error_naming_the_problem(backend, call, message: str) -> None:
    instance, loop = backend
    with pytest.raises(ValueError, match=message):
        loop.run_until_complete(collect(call(instance)))


def test_encode_audio_shares_the_stream_encoders(backend) -> None:
    instance, _ = backend
    samples = (0.5 * np.sin(np.arange(2400) / 10)).astype(np.float32)
    data, rate = soundfile.read(io.BytesIO(instance.encode_audio(samples, 24000, "wav")), dtype="float32")
    assert rate == 24000 and len(data) == 2400
    assert np.abs(data - samples).max() < 1e-4
    assert len(instance.encode_audio(samples, 24000, "pcm")) == 4800
    with av.open(io.BytesIO(instance.encode_audio(samples, 24000, "flac")), format="flac") as container:
        decoded = np.concatenate([frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)])
    assert np.array_equal(decoded, np.rint(samples * 32767).astype(np.int16))  # lossless, every sample
    with pytest.raises(ValueError, match="available formats: pcm, wav, flac"):
        instance.encode_audio(samples, 24000, "mp4")


def test_generation_failure_is_a_runtime_error_with_the_cause_chained() -> None:
    from tests.support.engines import FAIL_MARK, FaultyEngine

    async def body() -> None:
        instance = TTSBackend([FaultyEngine(threads=1)], engine_threads=1)
        await instance.initialize()
        try:
            with pytest.raises(RuntimeError) as raised:
                await collect(instance.custom_voice(f"This will {FAIL_MARK}."))
            assert raised.value.__cause__ is not None
        finally:
            await instance.shutdown()

    run(body())


def test_catalogue_lists_the_embedded_model_and_defaults(backend) -> None:
    instance, _ = backend
    [info] = instance.models()
    assert info.name == "hibari" and info.modes == ("custom_voice",) and info.speakers == ("heart",)
    assert instance.default_model("custom_voice") == "hibari"
    assert instance.default_model("voice_clone") is None


def test_the_pool_gets_a_thread_per_stream_an_engine_lets_wait() -> None:
    from realtime.engines.hibari_engine import HibariEngine

    class WaitingEngine(HibariEngine):
        waiting_streams = 3  # e.g. a batch scheduler's rows: their threads mostly wait

    async def body() -> None:
        instance = TTSBackend([WaitingEngine(threads=1)], engine_threads=2)
        await instance.initialize()
        try:
            assert instance._require_executor()._max_workers == 5
        finally:
            await instance.shutdown()

    run(body())


class _ScriptedVoice(Voice):
    """Plays back fixed engine chunks; records whether its stream was closed."""

    def __init__(self, chunks: list[EngineChunk]) -> None:
        self.chunks = chunks
        self.closed_streams = 0

    def synthesize(self, text: str, cancel: CancelFlag):  # type: ignore[no-untyped-def]
        try:
            yield from self.chunks
        finally:
            self.closed_streams += 1


def _first_segment_request(instance: TTSBackend, loop) -> VoiceRequest:  # type: ignore[no-untyped-def]
    request, errors = loop.run_until_complete(instance.bind_voice(VoiceSpec(seed=1), 1))
    assert request is not None, errors
    return request


def test_a_streams_first_segment_is_trimmed_and_notices_on_held_chunks_go_out(backend) -> None:
    instance, loop = backend
    speech = np.full(4800, 0.2, dtype=np.float32)
    voice = _ScriptedVoice([
        EngineChunk(np.zeros(2400, dtype=np.float32), final=False, notice="held"),
        EngineChunk(np.zeros(2400, dtype=np.float32), final=False),
        EngineChunk(speech, final=True, notice="last"),
    ])
    request = _first_segment_request(instance, loop)

    async def chunks(opens: VoiceRequest | None) -> list[EngineChunk]:
        return [chunk async for chunk in instance.stream(voice, "x", first_segment_of=opens)]

    trimmed = loop.run_until_complete(chunks(request))
    lead_in = round(24000 * LEAD_IN_MS / 1000)
    assert [len(c.samples) for c in trimmed] == [2400, lead_in + 4800 - 2400]  # the engine's first-piece length first
    assert [c.final for c in trimmed] == [False, True]
    assert [c.notice for c in trimmed] == [None, "held; last"]  # a held chunk's notice is not lost
    untouched = loop.run_until_complete(chunks(None))  # a later segment: as the engine made it
    assert [len(c.samples) for c in untouched] == [2400, 2400, 4800]
    assert voice.closed_streams == 2
