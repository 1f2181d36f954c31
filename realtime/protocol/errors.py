"""Protocol error codes and the typed error that carries one to the client."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from realtime.engines.problems import ProblemKind, VoiceProblem
from realtime.problems import ProblemRank, most_basic


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


# Protocol codes of the validation problems, ranked by the one table both doors share
# (realtime/problems.py): the answer's code is that of the most basic problem found.
_RANK_OF_CODE: dict[ErrorCode, ProblemRank] = {
    ErrorCode.BAD_MESSAGE: ProblemRank.MALFORMED,
    ErrorCode.BAD_REQUEST: ProblemRank.MALFORMED,
    ErrorCode.TEXT_TOO_LONG: ProblemRank.TEXT_TOO_LONG,
    ErrorCode.BAD_REFERENCE_AUDIO: ProblemRank.BAD_REFERENCE_AUDIO,
    ErrorCode.UNKNOWN_VOICE: ProblemRank.UNKNOWN_VOICE,
}


def rank_of_code(code: ErrorCode) -> ProblemRank:
    """Where a field error with this code stands when a message has several (realtime/problems.py)."""
    return _RANK_OF_CODE.get(code, ProblemRank.OTHER)


def combine_field_errors(
    errors: list[FieldError], *, fatal: bool, ctx: str | None = None, default_code: ErrorCode
) -> ProtocolError:
    """One ProtocolError naming every bad field, so the client fixes them all in one go.

    Its code is the most basic problem's; a malformed field is `default_code` (bad_message
    before session.ready, bad_request after it).
    """
    lead = most_basic(errors, lambda error: rank_of_code(error.code)) if errors else None
    rank = rank_of_code(lead.code) if lead is not None else ProblemRank.OTHER
    if lead is None or rank is ProblemRank.OTHER:
        code = default_code
    elif rank is ProblemRank.MALFORMED and default_code in (ErrorCode.BAD_MESSAGE, ErrorCode.BAD_REQUEST):
        code = default_code
    else:
        code = lead.code
    text = "; ".join(error.describe() for error in errors)
    return ProtocolError(
        code,
        text,
        fatal=fatal,
        ctx=ctx,
        details={"fields": [error.field for error in errors]},
    )
