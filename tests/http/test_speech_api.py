"""POST /v1/audio/speech through the official OpenAI client, against a real server."""

from __future__ import annotations

import time

import httpx
import numpy as np
import openai
import pytest

from realtime.http.protocol import OPENAI_FORMATS
from realtime.backend.backend import TTSBackend
from tests.support.engines import PACED_MODEL_NAME, PacedEngine
from tests.support.counting_engine import COUNTING_MODEL, CountingEngine, counting_backend, wait_until_steady
from tests.support.http_checks import HTTP, SPEECH, decoded_seconds, post_speech, scrape, sdk, sse_audio, sse_events
from tests.support.servers import server_fixture
from tests.conftest import run
from tests.wire import Wire, joined_audio

TEXT = "Hello there. This is the speech endpoint, streaming as it speaks."
SEED = 1234
# How far the decoded length may be from the pcm length. pcm, wav, flac and Ogg Opus are
# sample-exact; Ogg Vorbis is decoded by PyAV without its end trim (under one block); mp3 and
# ADTS carry no gapless data: the codec's priming (1105 / 1024 samples) plus one frame of padding.
TOLERANCE_S = {"pcm": 0.0, "wav": 0.0, "flac": 0.0, "opus": 0.001, "ogg": 0.05, "mp3": 0.1, "aac": 0.1}
MEDIA_TYPES = {"pcm": "audio/pcm", "wav": "audio/wav", "flac": "audio/flac", "opus": "audio/ogg; codecs=opus",
               "ogg": "audio/ogg; codecs=vorbis", "mp3": "audio/mpeg", "aac": "audio/aac"}


def speak(server, **fields) -> tuple[bytes, dict[str, str]]:  # type: ignore[no-untyped-def]
    """One request through the SDK's streaming interface: the body and the response headers."""
    fields = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "pcm", **fields}
    extra = {k: fields.pop(k) for k in ("seed", "sample_rate", "language", "mode") if k in fields}
    with sdk(server).audio.speech.with_streaming_response.create(**fields, extra_body=extra or None) as response:
        return response.read(), dict(response.headers)


@pytest.fixture(scope="module")
def reference_pcm(server) -> bytes:  # type: ignore[no-untyped-def]
    return speak(server, seed=SEED)[0]


@pytest.mark.parametrize("format", [*OPENAI_FORMATS, "ogg"])  # OpenAI's six, and our Ogg Vorbis
def test_every_response_format_decodes_to_the_right_duration(server, reference_pcm: bytes, format: str) -> None:
    data, headers = speak(server, seed=SEED, response_format=format)
    expected_s = len(reference_pcm) / 2 / 24000
    assert expected_s > 1.0
    assert abs(decoded_seconds(data, format) - expected_s) <= TOLERANCE_S[format] + 1e-9
    assert headers["x-seed"] == str(SEED) and headers["content-type"] == MEDIA_TYPES[format]


def test_openai_default_format_is_mp3(server, reference_pcm: bytes) -> None:
    audio = sdk(server).audio.speech.create(model="tts-1", voice="alloy", input=TEXT, extra_body={"seed": SEED})
    assert audio.response.headers["content-type"] == "audio/mpeg"
    data = audio.read()
    assert abs(decoded_seconds(data, "mp3") - len(reference_pcm) / 2 / 24000) <= TOLERANCE_S["mp3"]


def test_pcm_is_the_same_audio_for_the_same_seed_and_a_different_one_otherwise(server, reference_pcm: bytes) -> None:
    again, _ = speak(server, seed=SEED)
    other, headers = speak(server, seed=SEED + 1)
    assert again == reference_pcm
    assert other != reference_pcm
    assert headers["x-seed"] == str(SEED + 1)


def test_wav_is_one_file_with_one_header(server, reference_pcm: bytes) -> None:
    data, headers = speak(server, seed=SEED, response_format="wav")
    assert headers["content-type"] == "audio/wav"
    assert data.count(b"RIFF") == 1 and data.startswith(b"RIFF")
    assert data[44:] == reference_pcm


def test_openai_voice_name_maps_to_a_speaker(server) -> None:
    _, headers = speak(server, voice="nova")
    assert headers["x-speaker"] == "heart" and headers["x-model"] == "hibari"
    _, headers = speak(server, voice={"id": "heart"}, model="hibari")
    assert headers["x-speaker"] == "heart"


def test_sample_rate_extension_resamples(server, reference_pcm: bytes) -> None:
    data, headers = speak(server, seed=SEED, sample_rate=16000)
    assert headers["x-sample-rate"] == "16000"
    assert abs(len(data) / 2 / 16000 - len(reference_pcm) / 2 / 24000) < 0.005


@pytest.mark.parametrize("speed", [0.5, 2.0])
def test_speed_changes_the_duration(server, reference_pcm: bytes, speed: float) -> None:
    data, _ = speak(server, seed=SEED, speed=speed)
    expected_s = len(reference_pcm) / 2 / 24000 / speed
    assert abs(len(data) / 2 / 24000 - expected_s) < 0.1


def test_sse_events_parse_and_carry_the_same_audio(server, reference_pcm: bytes) -> None:
    body, headers = speak(server, seed=SEED, stream_format="sse")
    assert headers["content-type"].startswith("text/event-stream")
    events = sse_events(body)
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done" and set(kinds[:-1]) == {"speech.audio.delta"} and len(kinds) > 2
    assert sse_audio(events) == reference_pcm
    done = events[-1]
    assert done["usage"]["input_tokens"] == len(TEXT) and done["seed"] == SEED
    assert done["audio_ms"] == pytest.approx(len(reference_pcm) / 2 / 24000 * 1000)


@pytest.mark.parametrize("format", ["wav", "mp3", "opus"])
def test_sse_of_a_container_format_is_one_file(server, reference_pcm: bytes, format: str) -> None:
    body, _ = speak(server, seed=SEED, stream_format="sse", response_format=format)
    audio = sse_audio(sse_events(body))
    assert abs(decoded_seconds(audio, format) - len(reference_pcm) / 2 / 24000) <= TOLERANCE_S[format] + 1e-9


def test_sdk_raises_its_own_errors_with_our_message(server) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        sdk(server).audio.speech.create(model="tts-1", voice="bob", input="Hi.", response_format="pcm")
    error = caught.value.body
    assert caught.value.status_code == 400
    assert error["param"] == "voice" and error["code"] == "unknown_voice" and "heart" in error["message"]
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(server).audio.speech.create(model="qwen-huge", voice="alloy", input="Hi.", response_format="pcm")
    assert missing.value.body["code"] == "model_not_found" and "hibari" in missing.value.body["message"]


# -- streaming, on an engine slow enough to be watched ---------------------------------------

STEP_S = 0.05  # 80 steps take 4 s: a client slowed by a loaded machine still reads its first bytes early
COUNTING = CountingEngine(step_s=STEP_S)
counting_server = server_fixture(backend=lambda: counting_backend(COUNTING))
LONG_TEXT = " ".join(["word"] * 40) + "."  # one segment of 40 words: 80 engine steps


def test_streaming_yields_bytes_before_generation_ends(counting_server) -> None:
    counters = COUNTING.counters
    before = counters.produced
    with sdk(counting_server).audio.speech.with_streaming_response.create(
        model=COUNTING_MODEL, voice="tick", input=LONG_TEXT, response_format="pcm"
    ) as response:
        pieces = response.iter_bytes()
        first = next(pieces)
        produced_at_first_bytes = counters.produced - before
        rest = b"".join(pieces)
    total = counters.produced - before
    assert first and total == 80
    assert produced_at_first_bytes < total / 2, (produced_at_first_bytes, total)
    assert len(first + rest) == total * COUNTING.chunk_samples * 2


def test_client_leaving_stops_generation_and_frees_the_slot(counting_server) -> None:
    counters = COUNTING.counters
    before = counters.produced
    with HTTP.stream(
        "POST", counting_server.http_url + SPEECH, timeout=30,
        json={"model": COUNTING_MODEL, "voice": "tick", "input": LONG_TEXT, "response_format": "pcm"},
    ) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        next(chunks)
    # Leaving the block closes the connection: the engine must stop within a step, long before its 80 steps.

    async def steady() -> int:
        return (await wait_until_steady(lambda: counters.produced))[0]

    produced = run(steady()) - before
    assert produced < 40, produced
    assert counters.voices_closed == counters.voices_opened
    assert counters.generators_finished == counters.generators_started
    assert scrape(counting_server, "realtime_tts_sessions_active", transport="http") == 0


def test_many_requests_in_a_row_leave_nothing_behind(counting_server) -> None:
    for _ in range(3):
        post_speech(counting_server, {"model": COUNTING_MODEL, "voice": "tick", "input": "one two.", "response_format": "wav"})
    assert COUNTING.counters.voices_closed == COUNTING.counters.voices_opened
    assert scrape(counting_server, "realtime_tts_sessions_active", transport="http") == 0
    assert np.isfinite(scrape(counting_server, "realtime_tts_real_time_factor_sum", transport="http"))


# -- leaving while the engine is silent -------------------------------------------------------

# Pauses no test ever sits through: a server that only noticed a client's leaving at its
# next write (or at the first audio) would keep the stream for PACE_S, far past the bound.
PACE_S = 60.0
NOTICED_WITHIN_S = PACE_S / 3  # generous for a loaded machine, still far below the pause
paced_server = server_fixture(backend=lambda: TTSBackend([PacedEngine(PACE_S)], engine_threads=1))
# The first segment comes at once; the second is PACE_S away.
late_paced_server = server_fixture(backend=lambda: TTSBackend([PacedEngine(PACE_S, first_pace_s=0.0)], engine_threads=1))


def _http_sessions_end_within(running, seconds: float, failure: str) -> None:
    left_at = time.monotonic()
    while scrape(running, "realtime_tts_sessions_active", transport="http") != 0:
        assert time.monotonic() - left_at < seconds, failure
        time.sleep(0.02)


def test_client_leaving_while_nothing_is_sent_is_noticed_at_once(late_paced_server) -> None:
    """The body is raced against the disconnect: the server does not wait for its next write to find out."""
    with HTTP.stream(
        "POST", late_paced_server.http_url + SPEECH, timeout=30,
        json={"model": PACED_MODEL_NAME, "voice": "heart", "input": "Hello there. And a second line.",
              "response_format": "pcm"},
    ) as response:
        assert response.status_code == 200
        chunks = response.iter_raw()
        next(chunks)  # the first segment; the second is PACE_S away
    # the connection is closed here
    _http_sessions_end_within(late_paced_server, NOTICED_WITHIN_S, "the server only noticed at its next write")


def test_client_leaving_before_the_first_audio_is_noticed_at_once(paced_server) -> None:
    """The wait for the first audio is raced against the disconnect as well."""
    request = {"model": PACED_MODEL_NAME, "voice": "heart", "input": "Hello there.", "response_format": "pcm"}
    with pytest.raises(httpx.ReadTimeout):
        HTTP.post(paced_server.http_url + SPEECH, json=request, timeout=httpx.Timeout(30, read=0.3))
    _http_sessions_end_within(paced_server, NOTICED_WITHIN_S, "the server went on waiting for the first audio")


# (Not Ogg: each Ogg stream gets a random serial number, so two streams never match byte for byte.)
@pytest.mark.parametrize(("format", "sample_rate"), [("pcm", 24000), ("pcm", 16000), ("flac", 44100), ("mp3", 24000)])
def test_http_and_the_socket_give_the_same_bytes_for_the_same_seed(server, format: str, sample_rate: int) -> None:
    """One path: the same segmenter, engine voice, resampler and encoder behind both doors."""
    http_bytes, _ = speak(server, seed=SEED, sample_rate=sample_rate, response_format=format)

    async def over_the_socket() -> bytes:
        wire = await Wire.open(server.url)
        await wire.start(seed=SEED, format=format, sample_rate=sample_rate)
        await wire.send({"type": "text", "text": TEXT})
        await wire.send({"type": "end"})
        audio = joined_audio(await wire.until_done())
        await wire.close()
        return audio

    assert http_bytes == run(over_the_socket())
