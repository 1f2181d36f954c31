"""Protocol error codes and the typed error that carries one to the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from realtime.engines.problems import ProblemKind, VoiceProblem


class ErrorCode(IntEnum):
    """Every error code of PROTOCOL.md; the value is also the WebSocket close code when fatal."""

    TEXT_FRAME = 1003
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    OVER_CAPACITY = 1013
    BAD_MESSAGE = 4000
    UNAUTHORIZED = 4001
    FORBIDDEN_ORIGIN = 4003
    TIMEOUT = 4008
    BAD_REQUEST = 4100
    TOO_MANY_CONTEXTS = 4101
    TEXT_TOO_LONG = 4102
    BAD_REFERENCE_AUDIO = 4103
    UNKNOWN_VOICE = 4104
    GENERATION_FAILED = 4105

    @property
    def wire_name(self) -> str:
        """The snake_case `name` the protocol puts beside the code."""
        return self.name.lower()


@dataclass(slots=True)
class ProtocolError(Exception):
    """An error the client must hear about, in the protocol's `error` shape."""

    code: ErrorCode
    message: str
    fatal: bool = False
    ctx: str | None = None
    retry_after_ms: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def to_message(self) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "error",
            "code": int(self.code),
            "name": self.code.wire_name,
            "message": self.message,
            "fatal": self.fatal,
        }
        if self.ctx is not None:
            message["ctx"] = self.ctx
        if self.retry_after_ms is not None:
            message["retry_after_ms"] = self.retry_after_ms
        message.update(self.details)
        return message


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid field of a message; validation collects them all before answering."""

    field: str
    message: str
    code: ErrorCode = ErrorCode.BAD_MESSAGE

    def describe(self) -> str:
        return f"{self.field}: {self.message}"


# An engine's judgement of a voice, in the protocol's codes: a value the model cannot take is a
# bad field; a model, mode or speaker this server lacks is an unknown voice.
_CODE_OF_PROBLEM: dict[ProblemKind, ErrorCode] = {
    ProblemKind.INVALID_VALUE: ErrorCode.BAD_MESSAGE,
    ProblemKind.UNKNOWN_LANGUAGE: ErrorCode.BAD_MESSAGE,
    ProblemKind.UNKNOWN_MODEL: ErrorCode.UNKNOWN_VOICE,
    ProblemKind.MODE_NOT_SERVED: ErrorCode.UNKNOWN_VOICE,
    ProblemKind.UNKNOWN_SPEAKER: ErrorCode.UNKNOWN_VOICE,
    ProblemKind.BAD_REFERENCE_AUDIO: ErrorCode.BAD_REFERENCE_AUDIO,
}


def field_errors_from(problems: list[VoiceProblem]) -> list[FieldError]:
    """The backend's and engines' voice problems as the protocol's field errors (the socket's edge, and HTTP's)."""
    return [FieldError(problem.field, problem.message, _CODE_OF_PROBLEM[problem.kind]) for problem in problems]


# When several fields are wrong at once, the error's code is the most basic one found.
# A malformed field outranks bad reference audio, which outranks a voice this server lacks.
_CODE_PRIORITY = (
    ErrorCode.BAD_MESSAGE,
    ErrorCode.BAD_REQUEST,
    ErrorCode.TEXT_TOO_LONG,
    ErrorCode.BAD_REFERENCE_AUDIO,
    ErrorCode.UNKNOWN_VOICE,
)


def combine_field_errors(
    errors: list[FieldError], *, fatal: bool, ctx: str | None = None, default_code: ErrorCode
) -> ProtocolError:
    """One ProtocolError naming every bad field, so the client fixes them all in one go."""
    codes = {error.code for error in errors}
    code = next((c for c in _CODE_PRIORITY if c in codes), default_code)
    if code == ErrorCode.BAD_MESSAGE and default_code == ErrorCode.BAD_REQUEST:
        code = ErrorCode.BAD_REQUEST
    text = "; ".join(error.describe() for error in errors)
    return ProtocolError(
        code,
        text,
        fatal=fatal,
        ctx=ctx,
        details={"fields": [error.field for error in errors]},
    )
