"""OpenAI's error shape, and the status each kind of field problem gets."""

from __future__ import annotations

import json

from realtime.http.errors import ApiError, Problem, combine, problem_from_field
from realtime.protocol.errors import ErrorCode, FieldError


def test_error_body_has_openai_shape_and_headers() -> None:
    error = ApiError(503, "busy", "over_capacity", headers={"Retry-After": "1"})
    response = error.response()
    assert response.status_code == 503 and response.headers["retry-after"] == "1"
    assert json.loads(response.body) == {
        "error": {"message": "busy", "type": "server_error", "param": None, "code": "over_capacity"}
    }


def test_socket_field_names_become_openai_params() -> None:
    assert problem_from_field(FieldError("speaker", "no", ErrorCode.UNKNOWN_VOICE)).param == "voice"
    assert problem_from_field(FieldError("instruct", "no")).param == "instructions"
    assert problem_from_field(FieldError("language", "no")).param == "language"


def test_status_per_field_error_kind() -> None:
    assert problem_from_field(FieldError("model", "?", ErrorCode.UNKNOWN_VOICE)).status == 404
    assert problem_from_field(FieldError("speaker", "?", ErrorCode.UNKNOWN_VOICE)).status == 400
    assert problem_from_field(FieldError("mode", "?", ErrorCode.UNKNOWN_VOICE)).status == 400
    assert problem_from_field(FieldError("ref_audio", "?", ErrorCode.BAD_REFERENCE_AUDIO)).status == 422
    assert problem_from_field(FieldError("seed", "?")).status == 400


def test_combined_error_names_every_problem_and_takes_the_most_basic_status() -> None:
    error = combine(
        [
            Problem("ref_audio", "too short", 422, "bad_reference_audio"),
            Problem("model", "unknown", 404, "model_not_found"),
            Problem("speed", "too fast", 400),
        ]
    )
    assert (error.status, error.param, error.code) == (400, "speed", "invalid_value")
    assert error.fields == ["ref_audio", "model", "speed"]
    assert "too short" in error.message and "unknown" in error.message and "too fast" in error.message


def test_reference_audio_that_cannot_be_used_outranks_a_voice_the_server_lacks() -> None:
    """The one ranking (realtime/problems.py), as the socket answers 4103 before 4104 (HTTP used to answer 404 here)."""
    model = problem_from_field(FieldError("model", "unknown", ErrorCode.UNKNOWN_VOICE))
    speaker = problem_from_field(FieldError("speaker", "unknown", ErrorCode.UNKNOWN_VOICE))
    reference = problem_from_field(FieldError("ref_audio", "undecodable", ErrorCode.BAD_REFERENCE_AUDIO))
    malformed = problem_from_field(FieldError("seed", "not an integer"))
    assert combine([model, reference]).status == 422 and combine([model, reference]).param == "ref_audio"
    assert combine([speaker, reference]).code == "bad_reference_audio"  # a 400 that ranks as an unknown voice
    assert combine([reference, speaker, malformed]).param == "seed"  # a malformed field comes first
    assert combine([model, speaker]).status == 404  # equals: the first found
    assert combine([Problem("speed", "?"), Problem("ref_audio", "big", 413)]).status == 413
