"""The engine's silence before speech is cut at the start of each stream, over the socket and HTTP alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from realtime.audio.lead_in import LEAD_IN_MS, first_audible
from realtime.backend.backend import TTSBackend
from tests.conftest import run
from tests.support.http_checks import post_speech
from tests.support.servers import server_fixture
from tests.support.stream_checks import check_timeline, synthesize
from tests.wire import Wire, audio_of

RATE = 24000
LEAD_IN = round(RATE * LEAD_IN_MS / 1000)
TWO_SEGMENTS = "Hello there. How are you today?"

untrimmed_server = server_fixture(backend=lambda: TTSBackend(engine_threads=1, trim_leading_silence=False))


def samples_of(chunks: list[dict[str, Any]]) -> np.ndarray:
    return np.frombuffer(b"".join(c["data"] for c in chunks), dtype="<i2").astype(np.float32) / 32768.0


def first_audible_ms(samples: np.ndarray) -> float:
    index = first_audible(samples)
    assert index is not None, "no audible sample"
    return index * 1000.0 / RATE


def test_a_context_starts_speaking_after_the_lead_in_and_its_timeline_is_exact(server) -> None:
    _, messages = run(synthesize(server.url, TWO_SEGMENTS, seed=5, format="pcm"))
    chunks = audio_of(messages)
    check_timeline(chunks, RATE)
    samples = samples_of(chunks)
    # s16 rounding of the fade: the first audible sample is within a sample or two of the lead-in's end.
    assert LEAD_IN_MS - 0.2 <= first_audible_ms(samples) <= LEAD_IN_MS + 0.2
    assert samples[0] == 0.0  # faded in from zero: no click
    done = messages[-1]
    assert abs(done["audio_ms"] - len(samples) * 1000.0 / RATE) < 1e-6


def test_later_segments_keep_their_pauses_and_the_speech_is_untouched(server, untrimmed_server) -> None:
    _, trimmed = run(synthesize(server.url, TWO_SEGMENTS, seed=5, format="pcm"))
    _, natural = run(synthesize(untrimmed_server.url, TWO_SEGMENTS, seed=5, format="pcm"))
    trimmed_audio, natural_audio = samples_of(audio_of(trimmed)), samples_of(audio_of(natural))
    assert first_audible_ms(natural_audio) > 100  # what the engine makes: a long silence first
    cut = len(natural_audio) - len(trimmed_audio)
    assert abs(first_audible(natural_audio) - cut - LEAD_IN) <= 2  # s16 rounding at the threshold
    assert np.array_equal(trimmed_audio[LEAD_IN:], natural_audio[cut + LEAD_IN :])  # everything after the lead-in
    second = [c for c in audio_of(trimmed) if c["segment"] == 1]
    assert first_audible_ms(samples_of(second)) > 100  # the second segment's pause is kept


def test_each_context_is_trimmed_at_its_own_start(server) -> None:
    async def body() -> list[dict[str, Any]]:
        wire = await Wire.open(server.url)
        try:
            await wire.start(seed=9, format="pcm")
            for ctx in ("a", "b"):
                await wire.send({"type": "text", "ctx": ctx, "text": "Well, then."})
                await wire.send({"type": "end", "ctx": ctx})
            messages = await wire.until_done("a")
            if not any(m["type"] == "done" and m.get("ctx") == "b" for m in messages):
                messages += await wire.until_done("b")
            return messages
        finally:
            await wire.close()

    messages = run(body())
    for ctx in ("a", "b"):
        chunks = audio_of(messages, ctx)
        check_timeline(chunks, RATE)
        assert first_audible_ms(samples_of(chunks)) <= LEAD_IN_MS + 0.2


def test_http_starts_speaking_after_the_lead_in_as_the_socket_does(server) -> None:
    request = {"model": "tts-1", "voice": "alloy", "input": TWO_SEGMENTS, "response_format": "pcm", "seed": 5}
    response = post_speech(server, request)
    assert response.status_code == 200, response.text
    http_audio = np.frombuffer(response.content, dtype="<i2").astype(np.float32) / 32768.0
    assert first_audible_ms(http_audio) <= LEAD_IN_MS + 0.2
    _, messages = run(synthesize(server.url, TWO_SEGMENTS, seed=5, format="pcm"))
    assert np.array_equal(http_audio, samples_of(audio_of(messages)))
