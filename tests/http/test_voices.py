"""OpenAI model and voice names mapped onto the models this server has."""

from __future__ import annotations

from dataclasses import replace

from realtime.engines.hibari_engine import HIBARI_INFO
from realtime.http.voices import OPENAI_VOICES, resolve_model, resolve_speaker, socket_voice_fields, voice_aliases

QWEN_LIKE = replace(
    HIBARI_INFO, name="qwen", speakers=("vivian", "serena", "uncle_fu", "dylan", "eric", "ryan", "aiden", "ono_anna", "sohee")
)


def test_openai_model_names_mean_the_default_and_ours_are_kept() -> None:
    served = ["hibari"]
    assert resolve_model("tts-1", served) is None
    assert resolve_model("gpt-4o-mini-tts", served) is None
    assert resolve_model("hibari", served) == "hibari"
    assert resolve_model("nope", served) == "nope"  # left for the backend to refuse by name


def test_every_openai_voice_maps_to_a_speaker_of_a_full_model() -> None:
    for name in OPENAI_VOICES:
        assert resolve_speaker(name, QWEN_LIKE) in QWEN_LIKE.speakers
    assert resolve_speaker("onyx", QWEN_LIKE) == "uncle_fu"
    assert resolve_speaker("Nova", QWEN_LIKE) == "vivian"


def test_openai_voice_falls_back_to_the_first_speaker() -> None:
    assert resolve_speaker("alloy", HIBARI_INFO) == "heart"
    assert set(voice_aliases(HIBARI_INFO).values()) == {"heart"}


def test_own_speakers_pass_case_insensitively_and_unknown_names_unchanged() -> None:
    assert resolve_speaker("Heart", HIBARI_INFO) == "heart"
    assert resolve_speaker("bob", HIBARI_INFO) == "bob"
    assert resolve_speaker("bob", None) == "bob"


def test_models_without_custom_voice_list_no_aliases() -> None:
    assert voice_aliases(replace(HIBARI_INFO, modes=("voice_design",))) == {}


def test_socket_fields_leave_absent_values_out() -> None:
    fields = socket_voice_fields(model=None, speaker="heart", instructions=None, ref_audio=None, passed={"seed": 3})
    assert fields == {"seed": 3, "speaker": "heart"}
