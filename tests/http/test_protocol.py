"""Speech request bodies: OpenAI's fields and reference audio as text, every problem found at once."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from realtime.http.protocol import decode_reference, parse_speech_request

LIMITS = dict(max_input_chars=100, max_reference_bytes=1000)
VALID = {"model": "tts-1", "input": "Hello.", "voice": "alloy"}


def parse(**changes: Any):  # type: ignore[no-untyped-def]
    body = {**VALID, **changes}
    return parse_speech_request({k: v for k, v in body.items() if v is not None}, **LIMITS)


def test_openai_defaults() -> None:
    request, problems = parse()
    assert problems == []
    assert request is not None
    assert (request.response_format, request.stream_format, request.speed, request.sample_rate) == ("mp3", "audio", 1.0, 24000)


def test_every_field_is_read() -> None:
    request, problems = parse(
        response_format="wav", stream_format="sse", speed=1.5, instructions="calm", sample_rate=16000,
        mode="custom_voice", language="en", seed=7, x_vector_only=False, generation={"top_k": 5},
    )
    assert problems == []
    assert request is not None
    assert (request.response_format, request.stream_format, request.speed, request.instructions) == ("wav", "sse", 1.5, "calm")
    assert request.sample_rate == 16000
    # Voice fields go on untouched, to be judged by the socket's own validation.
    assert request.voice_fields == {"mode": "custom_voice", "language": "en", "seed": 7, "x_vector_only": False,
                                    "generation": {"top_k": 5}}


def test_voice_object_form_is_accepted() -> None:
    request, problems = parse(voice={"id": "heart"})
    assert problems == [] and request is not None and request.voice == "heart"


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [
        ({"model": None}, "model", "missing_required_parameter"),
        ({"input": None}, "input", "missing_required_parameter"),
        ({"voice": None}, "voice", "missing_required_parameter"),
        ({"input": "   "}, "input", "empty_string"),
        ({"input": "x" * 101}, "input", "string_above_max_length"),
        ({"input": 5}, "input", "invalid_type"),
        ({"voice": {"name": "x"}}, "voice", "invalid_value"),
        ({"response_format": "m4a"}, "response_format", "invalid_value"),
        ({"stream_format": "chunked"}, "stream_format", "invalid_value"),
        ({"sample_rate": 12345}, "sample_rate", "invalid_value"),
        ({"sample_rate": 24000.0}, "sample_rate", "invalid_value"),
        ({"speed": 0.2}, "speed", "invalid_value"),
        ({"speed": 4.5}, "speed", "invalid_value"),
        ({"speed": "fast"}, "speed", "invalid_type"),
        ({"speed": True}, "speed", "invalid_type"),
        ({"instructions": 3}, "instructions", "invalid_type"),
        ({"ref_audio": 12}, "ref_audio", "invalid_value"),
    ],
)
def test_bad_field_is_named(changes: dict[str, Any], param: str, code: str) -> None:
    _, problems = parse(**changes)
    assert [(p.param, p.code, p.status) for p in problems] == [(param, code, 400)]


def test_all_problems_are_reported_together() -> None:
    _, problems = parse(input="", speed=9, stream_format="x")
    assert [p.param for p in problems] == ["input", "stream_format", "speed"]


@pytest.mark.parametrize("body", [[1, 2], "text", None, 3])
def test_body_must_be_an_object(body: Any) -> None:
    request, problems = parse_speech_request(body, **LIMITS)
    assert request is None and len(problems) == 1 and "JSON object" in problems[0].message


def test_reference_as_base64_and_as_data_uri() -> None:
    audio = b"RIFF....WAVEfmt "
    encoded = base64.b64encode(audio).decode()
    assert decode_reference(encoded, 1000) == (audio, None, None)
    assert decode_reference(f"data:audio/wav;base64,{encoded}", 1000) == (audio, None, None)
    assert decode_reference(f"data:;base64,{encoded}", 1000) == (audio, None, None)


@pytest.mark.parametrize(
    ("value", "status", "words"),
    [
        ("not base64!!", 400, "base64"),
        ("data:audio/wav,plain", 400, "data URI"),
        ("https://example.com/voice.wav", 400, "not fetched"),
        ("file:///etc/passwd", 400, "not fetched"),
        ("file:", 400, "file name"),
        (base64.b64encode(b"x" * 1001).decode(), 413, "limit"),
        (base64.b64encode(b"x" * 4000).decode(), 413, "limit"),
    ],
)
def test_bad_reference_text(value: str, status: int, words: str) -> None:
    audio, name, problem = decode_reference(value, 1000)
    assert audio is None and name is None and problem is not None
    assert problem.status == status and words in problem.message


def test_reference_file_name_is_only_noted_here() -> None:
    assert decode_reference("file:alice.wav", 1000) == (None, "alice.wav", None)


def test_voice_is_optional_where_there_is_no_speaker_to_name() -> None:
    for mode in ("voice_clone", "voice_design"):
        _, problems = parse(voice=None, mode=mode)
        assert problems == []
    _, problems = parse(voice=None, mode="custom_voice")
    assert [p.param for p in problems] == ["voice"]
