from __future__ import annotations

from realtime.engines.problems import ProblemKind, VoiceProblem
from realtime.protocol.errors import ErrorCode, FieldError, ProtocolError, combine_field_errors, field_errors_from

PROTOCOL_TABLE = {
    1003: "text_frame", 1009: "message_too_big", 1011: "internal_error", 1013: "over_capacity",
    4000: "bad_message", 4001: "unauthorized", 4003: "forbidden_origin", 4008: "timeout",
    4100: "bad_request", 4101: "too_many_contexts", 4102: "text_too_long", 4103: "bad_reference_audio",
    4104: "unknown_voice", 4105: "generation_failed",
}


def test_codes_and_names_match_the_protocol_table() -> None:
    assert {int(code): code.wire_name for code in ErrorCode} == PROTOCOL_TABLE


def test_error_message_has_the_protocol_shape() -> None:
    message = ProtocolError(ErrorCode.OVER_CAPACITY, "full", fatal=True, retry_after_ms=1000).to_message()
    assert message == {"type": "error", "code": 1013, "name": "over_capacity", "message": "full",
                       "fatal": True, "retry_after_ms": 1000}
    message = ProtocolError(ErrorCode.TEXT_TOO_LONG, "long", ctx="a").to_message()
    assert message["ctx"] == "a" and message["fatal"] is False and "retry_after_ms" not in message


def test_combined_errors_name_every_field_and_pick_the_most_basic_code() -> None:
    error = combine_field_errors(
        [
            FieldError("speaker", "unknown", ErrorCode.UNKNOWN_VOICE),
            FieldError("ref_audio", "undecodable", ErrorCode.BAD_REFERENCE_AUDIO),
        ],
        fatal=True,
        default_code=ErrorCode.BAD_MESSAGE,
    )
    assert error.code is ErrorCode.BAD_REFERENCE_AUDIO
    assert "speaker: unknown" in error.message and "ref_audio: undecodable" in error.message
    assert error.to_message()["fields"] == ["speaker", "ref_audio"]
    unknown_model = FieldError("model", "unknown", ErrorCode.UNKNOWN_VOICE)
    reference = FieldError("ref_audio", "undecodable", ErrorCode.BAD_REFERENCE_AUDIO)
    for errors in ([unknown_model, reference], [reference, unknown_model]):
        assert combine_field_errors(errors, fatal=True, default_code=ErrorCode.BAD_MESSAGE).code is ErrorCode.BAD_REFERENCE_AUDIO
    malformed = [FieldError("seed", "bad"), reference, unknown_model]
    assert combine_field_errors(malformed, fatal=True, default_code=ErrorCode.BAD_MESSAGE).code is ErrorCode.BAD_MESSAGE


def test_malformed_field_after_ready_is_a_bad_request() -> None:
    error = combine_field_errors([FieldError("seed", "bad")], fatal=False, ctx="a", default_code=ErrorCode.BAD_REQUEST)
    assert error.code is ErrorCode.BAD_REQUEST and error.ctx == "a" and not error.fatal


def test_every_engine_problem_kind_maps_to_a_protocol_code_at_the_edge() -> None:
    problems = [VoiceProblem("speaker", f"bad {kind.value}", kind) for kind in ProblemKind]
    codes = {problem.kind: error.code for problem, error in zip(problems, field_errors_from(problems), strict=True)}
    assert codes == {
        ProblemKind.INVALID_VALUE: ErrorCode.BAD_MESSAGE,
        ProblemKind.UNKNOWN_LANGUAGE: ErrorCode.BAD_MESSAGE,
        ProblemKind.UNKNOWN_MODEL: ErrorCode.UNKNOWN_VOICE,
        ProblemKind.MODE_NOT_SERVED: ErrorCode.UNKNOWN_VOICE,
        ProblemKind.UNKNOWN_SPEAKER: ErrorCode.UNKNOWN_VOICE,
        ProblemKind.BAD_REFERENCE_AUDIO: ErrorCode.BAD_REFERENCE_AUDIO,
    }
    assert [error.describe() for error in field_errors_from(problems)] == [p.describe() for p in problems]
