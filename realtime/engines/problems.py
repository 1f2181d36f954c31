"""What can be wrong with a voice, in engine terms.

Engines and the backend judge a `VoiceSpec` and answer with `VoiceProblem`s; they know
nothing of error codes. Each door maps the kinds to its own answer at the edge: the
socket to protocol codes (realtime/protocol/errors.py `field_errors_from`), HTTP to
status codes through those (realtime/http/errors.py); which one answers a voice with
several problems is ranked once for both (realtime/problems.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ProblemKind(Enum):
    INVALID_VALUE = "invalid_value"  # a value this model cannot take as given (a speaker where it has none)
    UNKNOWN_MODEL = "unknown_model"  # no such model on this server
    MODE_NOT_SERVED = "mode_not_served"  # the model (or every model) cannot serve the mode
    UNKNOWN_SPEAKER = "unknown_speaker"  # not one of the model's speakers
    UNKNOWN_LANGUAGE = "unknown_language"  # a language the model does not speak
    BAD_REFERENCE_AUDIO = "bad_reference_audio"  # reference audio that cannot be decoded or used


@dataclass(frozen=True, slots=True)
class VoiceProblem:
    """One field of a voice that cannot be served; judging collects them all before answering."""

    field: str
    message: str
    kind: ProblemKind = ProblemKind.INVALID_VALUE

    def describe(self) -> str:
        return f"{self.field}: {self.message}"
