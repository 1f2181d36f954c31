"""One ranking of problems for both doors: a request with several is answered by its most basic one, at either door."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.engines.problems import ProblemKind, VoiceProblem
from realtime.http.errors import Problem, combine, problem_from_field
from realtime.problems import RANK_OF_KIND, ProblemRank, most_basic
from realtime.protocol.errors import ErrorCode, combine_field_errors, field_errors_from, rank_of_code

FIELDS = ("model", "mode", "speaker", "language", "ref_audio", "seed")


def test_every_engine_problem_kind_has_a_rank_and_both_doors_map_it_to_that_rank() -> None:
    for kind in ProblemKind:
        (error,) = field_errors_from([VoiceProblem("speaker", "?", kind)])
        assert rank_of_code(error.code) is RANK_OF_KIND[kind], kind
        assert problem_from_field(error).standing is RANK_OF_KIND[kind], kind


def test_reference_audio_outranks_a_voice_the_server_lacks_and_a_malformed_field_outranks_both() -> None:
    assert ProblemRank.MALFORMED < ProblemRank.BAD_REFERENCE_AUDIO < ProblemRank.UNKNOWN_VOICE
    assert most_basic(["b", "a", "c"], {"a": ProblemRank.MALFORMED, "b": ProblemRank.OTHER, "c": ProblemRank.MALFORMED}.get) == "a"


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.lists(
        st.builds(VoiceProblem, st.sampled_from(FIELDS), st.just("wrong"), st.sampled_from(list(ProblemKind))),
        min_size=1,
        max_size=6,
    )
)
def test_both_doors_answer_several_problems_by_the_same_one(problems: list[VoiceProblem]) -> None:
    lead = most_basic(problems, lambda problem: RANK_OF_KIND[problem.kind])
    errors = field_errors_from(problems)
    socket = combine_field_errors(errors, fatal=True, default_code=ErrorCode.BAD_MESSAGE)
    http = combine([problem_from_field(error) for error in errors])
    expected_error = errors[problems.index(lead)]
    assert socket.code is expected_error.code
    expected = problem_from_field(expected_error)
    assert (http.status, http.code, http.param) == (expected.status, expected.code, expected.param)
    assert socket.to_message()["fields"] == [p.field for p in problems]  # every problem is named at both doors
    assert len(http.fields) == len(problems)


def test_http_problems_that_do_not_say_their_rank_stand_by_their_status() -> None:
    assert Problem("x", "?", 413).standing is ProblemRank.TOO_LARGE
    assert Problem("x", "?", 400).standing is ProblemRank.MALFORMED
    assert Problem("x", "?", 422).standing is ProblemRank.BAD_REFERENCE_AUDIO
    assert Problem("x", "?", 404).standing is ProblemRank.UNKNOWN_VOICE
    assert Problem("x", "?", 409).standing is ProblemRank.OTHER
