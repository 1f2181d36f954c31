"""Which problem answers a request that has several: one ranking for both doors. Pure.

Every problem of a request is reported at once (the socket's `fields`, HTTP's
`fields`); the code or status of the answer is that of its most basic problem, the
one to fix first. Most basic first: a request too large to read; a malformed field;
text over its limit; reference audio that cannot be used (wrong wherever it is sent);
a voice this server lacks (model, mode, speaker, saved voice: depends on what is
installed, and judged against a request that is otherwise sound). The socket maps
the ranks to protocol codes (realtime/protocol/errors.py), HTTP to statuses
(realtime/http/errors.py); the engines' `ProblemKind`s are ranked here too, so an
engine's judgement of a voice is answered the same way at both doors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import TypeVar

from realtime.engines.problems import ProblemKind


class ProblemRank(IntEnum):
    """Lower is more basic: it answers a request that has several problems."""

    TOO_LARGE = 0  # a body or value over a byte limit (HTTP 413)
    MALFORMED = 1  # a field that is not what the protocol says (4000 / 4100; HTTP 400)
    TEXT_TOO_LONG = 2  # text over its limit (4102)
    BAD_REFERENCE_AUDIO = 3  # reference audio that cannot be decoded or used (4103; HTTP 422)
    UNKNOWN_VOICE = 4  # a model, mode, speaker or saved voice this server lacks (4104; HTTP 404 or 400)
    OTHER = 5  # anything no rule above covers: answered only when nothing else is wrong


RANK_OF_KIND: dict[ProblemKind, ProblemRank] = {
    ProblemKind.INVALID_VALUE: ProblemRank.MALFORMED,
    ProblemKind.UNKNOWN_LANGUAGE: ProblemRank.MALFORMED,
    ProblemKind.BAD_REFERENCE_AUDIO: ProblemRank.BAD_REFERENCE_AUDIO,
    ProblemKind.UNKNOWN_MODEL: ProblemRank.UNKNOWN_VOICE,
    ProblemKind.MODE_NOT_SERVED: ProblemRank.UNKNOWN_VOICE,
    ProblemKind.UNKNOWN_SPEAKER: ProblemRank.UNKNOWN_VOICE,
}

T = TypeVar("T")


def most_basic(problems: Iterable[T], rank: Callable[[T], ProblemRank]) -> T:
    """The problem that answers the request: the lowest rank, the first one found among equals."""
    return min(problems, key=rank)
