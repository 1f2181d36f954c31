"""HTTP errors in OpenAI's JSON shape, and how the socket's field errors map onto status codes.

Pure apart from building the Starlette response. Every problem of a request is
collected first, then answered in one error naming them all (as the socket does):
`{"error": {"message", "type", "param", "code", "fields"}}`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import JSONResponse

from realtime.problems import ProblemRank, most_basic
from realtime.protocol.errors import ErrorCode, FieldError, rank_of_code

# The socket's names for voice fields, and what an OpenAI client called them.
OPENAI_PARAM_NAMES = {"speaker": "voice", "instruct": "instructions"}

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    500: "server_error",
    503: "server_error",
}
# Where a problem stands when a request has several (the one table, realtime/problems.py),
# for problems that do not say it themselves: by their status.
_RANK_OF_STATUS = {
    413: ProblemRank.TOO_LARGE,
    400: ProblemRank.MALFORMED,
    422: ProblemRank.BAD_REFERENCE_AUDIO,
    404: ProblemRank.UNKNOWN_VOICE,
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a request."""

    param: str | None
    message: str
    status: int = 400
    code: str = "invalid_value"
    # Where it stands among several (realtime/problems.py); None: by its status. A speaker or mode
    # this server lacks is a 400 that ranks as an unknown voice, after a malformed field.
    rank: ProblemRank | None = None

    @property
    def standing(self) -> ProblemRank:
        return self.rank if self.rank is not None else _RANK_OF_STATUS.get(self.status, ProblemRank.OTHER)

    def describe(self) -> str:
        return f"{self.param}: {self.message}" if self.param else self.message


@dataclass(slots=True)
class ApiError(Exception):
    """An error answered to an HTTP client in OpenAI's shape."""

    status: int
    message: str
    code: str
    param: str | None = None
    fields: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    @property
    def type(self) -> str:
        return _TYPES.get(self.status, "invalid_request_error" if self.status < 500 else "server_error")

    def body(self) -> dict[str, object]:
        error: dict[str, object] = {"message": self.message, "type": self.type, "param": self.param, "code": self.code}
        if self.fields:
            error["fields"] = self.fields
        return {"error": error}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers or None)


def problem_from_field(error: FieldError) -> Problem:
    """A socket-side validation error (parse_voice, the backend, the engine) as an HTTP problem."""
    param = OPENAI_PARAM_NAMES.get(error.field, error.field)
    rank = rank_of_code(error.code)
    if error.code is ErrorCode.UNKNOWN_VOICE:
        if error.field == "model":
            return Problem(param, error.message, 404, "model_not_found", rank)
        return Problem(param, error.message, 400, "unknown_voice", rank)
    if error.code is ErrorCode.BAD_REFERENCE_AUDIO:
        return Problem(param, error.message, 422, "bad_reference_audio", rank)
    return Problem(param, error.message, 400, "invalid_value", rank)


def combine(problems: list[Problem]) -> ApiError:
    """One error naming every problem; its status and code are those of the most basic problem (realtime/problems.py)."""
    assert problems, "combine() needs at least one problem"
    lead = most_basic(problems, lambda problem: problem.standing)
    return ApiError(
        lead.status,
        "; ".join(p.describe() for p in problems),
        lead.code,
        param=lead.param,
        fields=[p.param for p in problems if p.param],
    )
