"""Every kind of bad speech request gets the right status and an OpenAI-shaped error naming the problem."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from starlette.testclient import TestClient

from realtime.audio import encoders
from realtime.backend.backend import TTSBackend
from realtime.config import Limits, ServerConfig
from realtime.server.app import create_app
from realtime.server.run import BackgroundServer
from tests.support.engines import CLONING_MODEL_NAME, FAIL_MARK, FAULTY_MODEL_NAME, CloningEngine, FaultyEngine
from tests.support.http_checks import HTTP, SPEECH, openai_error, post_speech, sse_events
from tests.support.servers import server_fixture

OK = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"}


def body(**changes: Any) -> dict[str, Any]:
    merged = {**OK, **changes}
    return {k: v for k, v in merged.items() if v is not None}


def check(response: httpx.Response, status: int, param: str | None, code: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error = openai_error(response)
    assert error["param"] == param and error["code"] == code, error
    for word in words:
        assert word in error["message"], error
    return error


@pytest.mark.parametrize(
    ("changes", "status", "param", "code", "words"),
    [
        ({"model": None}, 400, "model", "missing_required_parameter", ()),
        ({"input": None}, 400, "input", "missing_required_parameter", ()),
        ({"voice": None}, 400, "voice", "missing_required_parameter", ()),
        ({"input": ""}, 400, "input", "empty_string", ()),
        ({"input": "x" * 4097}, 400, "input", "string_above_max_length", ("4096",)),
        ({"input": ["a"]}, 400, "input", "invalid_type", ("string",)),
        ({"response_format": "m4a"}, 400, "response_format", "invalid_value", ("mp3", "pcm")),
        ({"stream_format": "chunks"}, 400, "stream_format", "invalid_value", ("sse",)),
        ({"speed": 5}, 400, "speed", "invalid_value", ("0.25..4",)),
        ({"speed": "fast"}, 400, "speed", "invalid_type", ()),
        ({"sample_rate": 11025}, 400, "sample_rate", "invalid_value", ("24000",)),
        ({"seed": -1}, 400, "seed", "invalid_value", ("range",)),
        ({"seed": True}, 400, "seed", "invalid_value", ("integer",)),
        ({"language": "klingon"}, 400, "language", "invalid_value", ("english",)),
        ({"language": "french"}, 400, "language", "invalid_value", ("English only",)),
        ({"generation": {"subtalker_top_p": 1.5}}, 400, "generation.subtalker_top_p", "invalid_value", ("0..1",)),
        ({"generation": {"subtalker_do_sample": "no"}}, 400, "generation.subtalker_do_sample", "invalid_value", ("true or false",)),
        ({"mode": "karaoke"}, 400, "mode", "invalid_value", ("voice_clone",)),
        ({"voice": "bob"}, 400, "voice", "unknown_voice", ("heart",)),
        ({"mode": "voice_design", "instructions": "a calm voice"}, 400, "mode", "unknown_voice", ("hibari",)),
        ({"model": "qwen3-tts-1.7b"}, 404, "model", "model_not_found", ("hibari",)),
        ({"ref_audio": "%%%"}, 400, "ref_audio", "invalid_value", ("base64",)),
        ({"ref_audio": "https://example.com/a.wav"}, 400, "ref_audio", "invalid_value", ("not fetched",)),
        ({"ref_audio": "file:a.wav"}, 400, "ref_audio", "reference_files_disabled", ("--ref-audio-dir",)),
        ({"ref_audio": base64.b64encode(b"RIFF").decode()}, 400, "ref_audio", "invalid_value", ("voice_clone",)),
    ],
)
def test_bad_field(server, changes: dict[str, Any], status: int, param: str, code: str, words: tuple[str, ...]) -> None:
    check(post_speech(server, body(**changes)), status, param, code, *words)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"instructions": "whisper"}, ("instruct", "ignored")),
        ({"generation": {"temperature": 0.5}}, ("temperature", "ignored")),
        ({"instructions": "whisper", "generation": {"top_k": 3}}, ("instruct", "top_k")),
    ],
    ids=["instructions", "generation", "both"],
)
def test_settings_the_model_cannot_use_are_ignored_with_a_notice(server, changes: dict[str, Any], words: tuple[str, ...]) -> None:
    # Voice-agent frameworks send `instructions` to every model (OpenAI's tts-1 ignores it and still speaks).
    response = post_speech(server, body(**changes))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "audio/pcm" and len(response.content) > 4800
    assert all(word in response.headers["x-notice"] for word in words), response.headers["x-notice"]
    plain = post_speech(server, body(seed=3))
    assert "x-notice" not in plain.headers
    assert post_speech(server, body(seed=3, **changes)).content == plain.content  # ignored, really


def test_every_problem_is_named_in_one_error(server) -> None:
    error = check(
        post_speech(server, body(input="", speed=9, model="nope")), 400, "input", "empty_string", "0.25..4", "nope"
    )
    assert error["fields"] == ["input", "speed", "model"]
    assert error["type"] == "invalid_request_error"
    # The model's own judgement (an unknown speaker) joins the request's problems.
    error = check(post_speech(server, body(speed=9, voice="bob")), 400, "speed", "invalid_value", "heart")
    assert error["fields"] == ["speed", "voice"]


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"\xff\xfe", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["broken", "array", "not_utf8", "empty", "deep"],
)
def test_body_that_is_no_json_object(server, content: bytes, words: str) -> None:
    response = post_speech(server, content, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert words in openai_error(response)["message"]


def test_unavailable_format_is_refused_naming_the_available_ones(server, monkeypatch: pytest.MonkeyPatch) -> None:
    # The server runs in this process: take wav out of the registry as if this build had no wav encoder.
    monkeypatch.delitem(encoders._ENCODERS, "wav")
    error = check(post_speech(server, body(response_format="wav")), 400, "response_format", "unsupported_format")
    refused, _, available = error["message"].partition("available formats:")
    assert "'wav'" in refused
    assert [f.strip() for f in available.split(",")] == [f for f in encoders.available_formats()]
    assert "wav" not in available and "pcm" in available


def test_unknown_route_and_method_answer_in_openai_shape(server) -> None:
    check(HTTP.get(server.http_url + "/v1/audio/nothing"), 404, None, "not_found")
    check(HTTP.get(server.http_url + SPEECH), 405, None, "method_not_allowed")


# -- size limits -----------------------------------------------------------------------------

small_server = server_fixture(limits=dict(max_reference_bytes=2000, max_text_chars=50))


def test_body_over_the_limit_is_413(small_server) -> None:
    response = post_speech(small_server, body(input="x" * 200_000))
    check(response, 413, None, "request_too_large")


def test_reference_audio_over_the_limit_is_413(small_server) -> None:
    huge = base64.b64encode(b"\0" * 3000).decode()
    check(post_speech(small_server, body(ref_audio=huge, mode="voice_clone")), 413, "ref_audio", "reference_audio_too_large")


def test_input_limit_follows_the_server_limit(small_server) -> None:
    check(post_speech(small_server, body(input="x" * 51)), 400, "input", "string_above_max_length", "50")


# -- reference audio, on an engine that takes voice_clone -----------------------------------------


def wav_bytes(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.1 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


CLONING = CloningEngine()


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("refs")
    (directory / "alice.wav").write_bytes(wav_bytes(2.0))
    (directory.parent / "outside.wav").write_bytes(wav_bytes(2.0))
    (directory / "escape.wav").symlink_to(directory.parent / "outside.wav")
    return directory


@pytest.fixture(scope="module")
def cloning_server(references: Path) -> Iterator[BackgroundServer]:
    config = ServerConfig(log_level="warning", engine_threads=1, ref_audio_dir=references)
    with BackgroundServer(config, TTSBackend([CLONING], engine_threads=1)) as running:
        yield running


def clone(**changes: Any) -> dict[str, Any]:
    return body(model=CLONING_MODEL_NAME, mode="voice_clone", ref_text="A reference line.", **changes)


@pytest.mark.parametrize(
    ("reference", "seconds"),
    [
        (base64.b64encode(wav_bytes(2.0)).decode(), 2.0),
        ("data:audio/wav;base64," + base64.b64encode(wav_bytes(2.0)).decode(), 2.0),
        ("file:alice.wav", 2.0),
        (base64.b64encode(wav_bytes(12.0)).decode(), 12.0),  # a large body: parsed off the event loop
    ],
    ids=["base64", "data_uri", "file_in_dir", "large_base64"],
)
def test_reference_audio_reaches_the_engine(cloning_server, reference: str, seconds: float) -> None:
    count = len(CLONING.reference_seconds)
    response = post_speech(cloning_server, clone(ref_audio=reference))
    assert response.status_code == 200, response.text
    assert len(response.content) > 0
    assert CLONING.reference_seconds[count:] == [pytest.approx(seconds, abs=0.01)]


@pytest.mark.parametrize(
    ("changes", "status", "code", "words"),
    [
        ({"ref_audio": base64.b64encode(bytes(range(256)) * 8).decode()}, 422, "bad_reference_audio", ()),
        ({"ref_audio": base64.b64encode(wav_bytes(0.3)).decode()}, 422, "bad_reference_audio", ("short",)),
        ({"ref_audio": None}, 400, "invalid_value", ("required",)),
        ({"ref_audio": "file:missing.wav"}, 404, "reference_file_not_found", ()),
        ({"ref_audio": "file:../outside.wav"}, 400, "invalid_value", ("plain name",)),
        ({"ref_audio": "file:/etc/passwd"}, 400, "invalid_value", ("plain name",)),
        ({"ref_audio": "file:escape.wav"}, 404, "reference_file_not_found", ()),
    ],
)
def test_bad_reference_audio(cloning_server, changes: dict[str, Any], status: int, code: str, words: tuple[str, ...]) -> None:
    check(post_speech(cloning_server, clone(**changes)), status, "ref_audio", code, *words)


def test_unusable_reference_audio_answers_before_a_voice_the_server_lacks(cloning_server, server) -> None:
    """One ranking for both doors (realtime/problems.py): 422 as the socket's 4103, every problem still named."""
    garbage = base64.b64encode(bytes(range(256)) * 8).decode()
    error = check(post_speech(cloning_server, {**clone(ref_audio=garbage), "model": "nope"}), 422, "ref_audio",
                  "bad_reference_audio", "nope")
    assert sorted(error["fields"]) == ["model", "ref_audio"]
    # The embedded engine cannot clone at all: still the reference audio first, the mode named too.
    error = check(post_speech(server, body(mode="voice_clone", ref_text="Hi.", ref_audio=garbage)), 422, "ref_audio",
                  "bad_reference_audio", "voice_clone")
    assert sorted(error["fields"]) == ["mode", "ref_audio"]


def test_voice_clone_needs_no_voice_name(cloning_server) -> None:
    request = clone(ref_audio=base64.b64encode(wav_bytes(2.0)).decode())
    del request["voice"]
    response = post_speech(cloning_server, request)
    assert response.status_code == 200 and "x-speaker" not in response.headers


def test_missing_ref_text_is_named(cloning_server) -> None:
    request = clone(ref_audio=base64.b64encode(wav_bytes(2.0)).decode())
    del request["ref_text"]
    check(post_speech(cloning_server, request), 400, "ref_text", "invalid_value", "x_vector_only")
    request["x_vector_only"] = True
    assert post_speech(cloning_server, request).status_code == 200


# -- failures while generating ----------------------------------------------------------------

faulty_server = server_fixture(backend=lambda: TTSBackend([FaultyEngine(threads=1)], engine_threads=1))


@pytest.mark.parametrize("stream_format", ["audio", "sse"])
def test_failure_before_the_first_audio_is_a_500(faulty_server, stream_format: str) -> None:
    request = body(model=FAULTY_MODEL_NAME, input=f"{FAIL_MARK} at once.", stream_format=stream_format)
    response = post_speech(faulty_server, request)
    error = check(response, 500, None, "generation_failed")
    assert error["type"] == "server_error"


FAILING_RUN = f"Hello there. {FAIL_MARK} one. {FAIL_MARK} two. {FAIL_MARK} three. Never said."


def test_a_failing_segment_after_audio_is_skipped_and_the_body_goes_on(faulty_server) -> None:
    alone = post_speech(faulty_server, body(model=FAULTY_MODEL_NAME, input="Hello there. Still said.", seed=3))
    request = body(model=FAULTY_MODEL_NAME, input=f"Hello there. And then {FAIL_MARK} here. Still said.", seed=3)
    response = post_speech(faulty_server, request)
    assert response.status_code == 200
    assert response.content == alone.content  # complete: every other segment, nothing of the failed one


def test_three_failing_segments_in_a_row_cut_a_raw_stream(faulty_server) -> None:
    request = body(model=FAULTY_MODEL_NAME, input=FAILING_RUN)
    with pytest.raises(httpx.RemoteProtocolError):
        with HTTP.stream("POST", faulty_server.http_url + SPEECH, json=request, timeout=30) as response:
            assert response.status_code == 200
            response.read()  # the body never ends cleanly: the client cannot take it for a whole file


def test_three_failing_segments_in_a_row_end_sse_with_an_error_event(faulty_server) -> None:
    request = body(model=FAULTY_MODEL_NAME, input=FAILING_RUN, stream_format="sse")
    response = post_speech(faulty_server, request)
    assert response.status_code == 200
    events = sse_events(response.content)
    assert events[0]["type"] == "speech.audio.delta"
    assert events[-1]["type"] == "error" and events[-1]["error"]["code"] == "generation_failed"
    assert "speech.audio.done" not in [e["type"] for e in events]


def test_server_still_serves_after_failures(faulty_server) -> None:
    response = post_speech(faulty_server, body(model=FAULTY_MODEL_NAME))
    assert response.status_code == 200 and len(response.content) > 0


# -- not ready, over capacity -----------------------------------------------------------------


def test_not_ready_is_503_with_retry_after() -> None:
    app = create_app(ServerConfig(log_level="warning"), TTSBackend(engine_threads=1, limits=Limits()))
    client = TestClient(app)  # no lifespan: the engines never load
    response = client.post(SPEECH, json=OK)
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "not_ready"
