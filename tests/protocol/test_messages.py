from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.protocol.errors import ErrorCode
from realtime.protocol.messages import (
    GENERATION_RANGES,
    MAX_SEED,
    VoiceSpec,
    message_type,
    parse_context_overrides,
    parse_ctx,
    parse_session_start,
)

MAX_REF = 1000


def start(**fields):
    return parse_session_start({"type": "session.start", **fields}, max_reference_bytes=MAX_REF)


def fields_of(errors) -> list[str]:
    return [e.field for e in errors]


def test_empty_session_start_gives_the_protocol_defaults() -> None:
    spec, errors = start()
    assert errors == []
    assert spec.voice == VoiceSpec()
    assert (spec.format, spec.sample_rate, spec.segmentation) == ("pcm", 24000, "auto")


def test_every_bad_field_is_reported_at_once() -> None:
    _, errors = start(mode="sing", seed=-1, format="mp4", sample_rate=12345, segmentation="word",
                      generation={"temperature": 9})
    assert fields_of(errors) == ["mode", "seed", "generation.temperature", "format", "sample_rate", "segmentation"]
    assert all(e.code is ErrorCode.BAD_MESSAGE for e in errors)


@pytest.mark.parametrize("seed", [True, False, -1, MAX_SEED + 1, 1.5, "7", b"7", [1]])
def test_seed_must_be_an_integer_in_range_and_not_a_bool(seed) -> None:
    _, errors = start(seed=seed)
    assert fields_of(errors) == ["seed"]


@pytest.mark.parametrize("seed", [0, 1, MAX_SEED])
def test_seed_range_is_inclusive(seed) -> None:
    spec, errors = start(seed=seed)
    assert errors == [] and spec.voice.seed == seed


def test_nil_fields_count_as_absent() -> None:
    spec, errors = start(seed=None, speaker=None, format=None, generation=None)
    assert errors == [] and spec.voice.seed is None and spec.format == "pcm"


def test_voice_clone_needs_reference_audio_and_its_text() -> None:
    _, errors = start(mode="voice_clone")
    assert fields_of(errors) == ["ref_audio", "ref_text"]


def test_voice_clone_x_vector_only_needs_no_ref_text() -> None:
    spec, errors = start(mode="voice_clone", ref_audio=b"RIFF....", x_vector_only=True)
    assert errors == [] and spec.voice.x_vector_only


def test_reference_audio_must_be_bin_and_within_the_size_limit() -> None:
    _, errors = start(mode="voice_clone", ref_audio="aGVsbG8=", ref_text="hi")
    assert fields_of(errors) == ["ref_audio"] and errors[0].code is ErrorCode.BAD_MESSAGE
    _, errors = start(mode="voice_clone", ref_audio=b"x" * (MAX_REF + 1), ref_text="hi")
    assert fields_of(errors) == ["ref_audio"] and errors[0].code is ErrorCode.BAD_REFERENCE_AUDIO


def test_voice_design_needs_an_instruct() -> None:
    _, errors = start(mode="voice_design")
    assert fields_of(errors) == ["instruct"]
    _, errors = start(mode="voice_design", instruct="   ")
    assert fields_of(errors) == ["instruct"]


def test_language_accepts_names_and_short_codes_case_insensitively() -> None:
    assert start(language="English")[0].voice.language == "english"
    assert start(language="ja")[0].voice.language == "japanese"
    _, errors = start(language="klingon")
    assert fields_of(errors) == ["language"]


def test_generation_settings_are_range_and_type_checked() -> None:
    spec, errors = start(generation={"temperature": 0.7, "top_k": 50, "max_new_tokens": 100, "top_p": 1})
    assert errors == []
    assert spec.voice.generation.given() == {"temperature": 0.7, "top_p": 1.0, "top_k": 50, "max_new_tokens": 100}
    _, errors = start(generation={"top_k": 1.5, "top_p": True, "repetition_penalty": 0.1, "seed": 1})
    assert fields_of(errors) == ["generation.top_k", "generation.top_p", "generation.repetition_penalty", "generation.seed"]
    _, errors = start(generation="hot")
    assert fields_of(errors) == ["generation"]


def test_code_predictor_settings_are_range_and_type_checked() -> None:
    spec, errors = start(generation={"subtalker_do_sample": False, "subtalker_temperature": 0.5,
                                     "subtalker_top_k": 10, "subtalker_top_p": 0.9})
    assert errors == []
    assert spec.voice.generation.given() == {"subtalker_do_sample": False, "subtalker_temperature": 0.5,
                                             "subtalker_top_k": 10, "subtalker_top_p": 0.9}
    _, errors = start(generation={"subtalker_do_sample": 0, "subtalker_temperature": 2.5,
                                  "subtalker_top_k": True, "subtalker_top_p": -0.1})
    assert fields_of(errors) == ["generation.subtalker_do_sample", "generation.subtalker_temperature",
                                 "generation.subtalker_top_k", "generation.subtalker_top_p"]


def test_context_overrides_keep_the_session_voice_for_fields_not_given() -> None:
    base = VoiceSpec(speaker="heart", seed=5, language="english")
    spec, errors = parse_context_overrides({"type": "context.start", "seed": 9}, base, max_reference_bytes=MAX_REF)
    assert errors == [] and spec.speaker == "heart" and spec.seed == 9 and spec.language == "english"


def test_context_overrides_with_another_mode_drop_the_session_speaker() -> None:
    base = VoiceSpec(speaker="heart", seed=5)
    spec, errors = parse_context_overrides(
        {"type": "context.start", "mode": "voice_design", "instruct": "a calm voice"}, base, max_reference_bytes=MAX_REF
    )
    assert errors == [] and spec.speaker is None and spec.seed == 5 and spec.instruct == "a calm voice"


def test_ctx_defaults_to_main_and_star_only_where_allowed() -> None:
    assert parse_ctx({}) == ("main", [])
    assert parse_ctx({"ctx": "npc-1"}) == ("npc-1", [])
    assert parse_ctx({"ctx": "*"}, allow_all=True) == ("*", [])
    for bad in ("*", "", "x" * 200, 5):
        _, errors = parse_ctx({"ctx": bad})
        assert fields_of(errors) == ["ctx"] and errors[0].code is ErrorCode.BAD_REQUEST


def test_message_type_requires_a_map_with_a_string_type() -> None:
    assert message_type({"type": "text"}) == "text"
    for bad in ([], "text", {"type": 5}, {}, None):
        assert message_type(bad) is None


_SETTING_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-10_000, 10_000), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5), st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.dictionaries(st.sampled_from([*GENERATION_RANGES, "seed", "min_p"]), _SETTING_VALUES, max_size=6))
def test_any_generation_map_is_accepted_in_range_or_refused_field_by_field(settings_map: dict) -> None:
    spec, errors = start(generation=settings_map)
    refused = {error.field for error in errors}
    accepted = spec.voice.generation.given() if not errors else {}
    for key, value in settings_map.items():
        label = f"generation.{key}"
        if key not in GENERATION_RANGES:
            assert label in refused
            continue
        kind, low, high = GENERATION_RANGES[key]
        if value is None:
            assert label not in refused
            continue
        if kind == "bool":
            assert (label in refused) == (not isinstance(value, bool))
            continue
        valid_type = not isinstance(value, bool) and isinstance(value, int if kind == "int" else (int, float))
        valid = valid_type and value == value and low <= value <= high
        assert (label in refused) == (not valid)
        if valid and not errors:
            assert accepted[key] == value


def test_timestamps_default_to_none_and_take_word() -> None:
    assert start()[0].timestamps == "none"
    assert start(timestamps="word")[0].timestamps == "word"


@pytest.mark.parametrize("value", ["words", "Word", "", True, 1, ["word"]])
def test_timestamps_must_be_none_or_word(value) -> None:
    spec, errors = start(timestamps=value)
    assert fields_of(errors) == ["timestamps"] and spec.timestamps == "none"


def test_context_timestamps_fall_back_to_the_sessions_choice() -> None:
    from realtime.protocol.messages import parse_timestamps

    assert parse_timestamps({"type": "context.start"}, "word") == ("word", [])
    assert parse_timestamps({"type": "context.start", "timestamps": "none"}, "word") == ("none", [])
    value, errors = parse_timestamps({"type": "context.start", "timestamps": 3}, "none")
    assert value == "none" and fields_of(errors) == ["timestamps"]
