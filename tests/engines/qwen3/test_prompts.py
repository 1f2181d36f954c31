"""Talker prompts for each mode: built by the official code (greedy codes from them equal the
official generate_* codes), without touching the shared model, with clear errors."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import torch

from realtime.engines.qwen3.frames import generate_frames
from realtime.engines.qwen3.prompts import (
    ClonePrompt,
    PromptError,
    TalkerPrompt,
    custom_voice_prompt,
    voice_clone_prompt,
    voice_design_prompt,
)
from realtime.engines.qwen3.sampling import SamplingParams, make_generator
from tests.support.qwen_models import official_codes, qwen_models, reference_audio  # noqa: F401  (fixture)

FRAMES = 12
TEXT = "Hello world, this is a test."


def greedy(tts: Any) -> SamplingParams:
    return SamplingParams.from_config(tts.generate_defaults).greedy()


def our_codes(tts: Any, prompt: TalkerPrompt, frames: int = FRAMES) -> torch.Tensor:
    stream = generate_frames(tts, prompt, greedy(tts), make_generator(0), lambda: False, max_frames=frames)
    return torch.stack(list(stream))


def assert_same_codes(official: torch.Tensor, ours: torch.Tensor) -> None:
    assert official.shape[0] >= 2 and official.shape[1] == 16
    assert torch.equal(official, ours)


@pytest.fixture(scope="module")
def clone_prompts(qwen_models: dict[str, Any]) -> dict[str, ClonePrompt]:  # noqa: F811
    base = qwen_models["base"]
    audio = reference_audio()
    return {
        "x_vector": ClonePrompt.from_audio(base, audio, x_vector_only=True),
        "icl": ClonePrompt.from_audio(base, audio, ref_text="Okay. Yeah. I resent you."),
    }


def test_custom_voice_greedy_codes_equal_the_official_call(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["custom_voice"]
    official = official_codes(
        tts, "generate_custom_voice", FRAMES, greedy(tts), text=TEXT, speaker="Ryan", language="English"
    )
    assert_same_codes(official, our_codes(tts, custom_voice_prompt(tts, TEXT, speaker="Ryan", language="English")))


def test_custom_voice_with_instruct_and_dialect_speaker_equals_the_official_call(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["custom_voice"]
    kwargs = {"text": "Hello world.", "speaker": "Eric", "language": "Auto", "instruct": "Very happy."}
    official = official_codes(tts, "generate_custom_voice", FRAMES, greedy(tts), **kwargs)
    assert_same_codes(official, our_codes(tts, custom_voice_prompt(tts, **kwargs)))


def test_voice_design_greedy_codes_equal_the_official_call(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["voice_design"]
    kwargs = {"text": TEXT, "instruct": "A calm male voice, middle aged, slightly husky.", "language": "English"}
    official = official_codes(tts, "generate_voice_design", FRAMES, greedy(tts), **kwargs)
    assert_same_codes(official, our_codes(tts, voice_design_prompt(tts, **kwargs)))


@pytest.mark.parametrize("kind", ["x_vector", "icl"])
def test_voice_clone_greedy_codes_equal_the_official_call(
    qwen_models: dict[str, Any], clone_prompts: dict[str, ClonePrompt], kind: str  # noqa: F811
) -> None:
    tts = qwen_models["base"]
    clone = clone_prompts[kind]
    official = official_codes(
        tts, "generate_voice_clone", FRAMES, greedy(tts), text=TEXT, language="English",
        voice_clone_prompt=[clone.item],
    )
    assert_same_codes(official, our_codes(tts, voice_clone_prompt(tts, TEXT, clone, language="English")))


def test_official_clone_from_raw_audio_equals_our_prepared_clone_prompt(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["base"]
    audio = reference_audio(seconds=1.0)
    clone = ClonePrompt.from_audio(tts, audio, ref_text="Very happy.")
    official = official_codes(
        tts, "generate_voice_clone", FRAMES, greedy(tts), text=TEXT, language="English",
        ref_audio=(audio, 24_000), ref_text="Very happy.",
    )
    assert_same_codes(official, our_codes(tts, voice_clone_prompt(tts, TEXT, clone, language="English")))


def test_clone_prompt_holds_the_x_vector_and_for_icl_the_reference_codes_and_text(
    clone_prompts: dict[str, ClonePrompt],
) -> None:
    x_vector, icl = clone_prompts["x_vector"], clone_prompts["icl"]
    assert not x_vector.icl and x_vector.ref_codes is None and x_vector.x_vector.ndim == 1
    assert icl.icl and icl.ref_text == "Okay. Yeah. I resent you."
    assert icl.ref_codes is not None and icl.ref_codes.shape == (19, 16)  # 1.5 s at 12.5 frames/s
    assert torch.equal(icl.x_vector, x_vector.x_vector)


def test_one_clone_prompt_serves_every_segment(qwen_models: dict[str, Any], clone_prompts: dict[str, ClonePrompt]) -> None:  # noqa: F811
    tts = qwen_models["base"]
    icl = clone_prompts["icl"]
    first = voice_clone_prompt(tts, "First sentence.", icl)
    second = voice_clone_prompt(tts, "The second, longer sentence.", icl)
    again = voice_clone_prompt(tts, "First sentence.", icl)
    assert torch.equal(first.inputs_embeds, again.inputs_embeds)
    assert not torch.equal(first.trailing_text_hidden, second.trailing_text_hidden)
    # ICL puts the reference codes (and a codec BOS, in place of the first text token) in the prefill.
    x_vector = voice_clone_prompt(tts, "First sentence.", clone_prompts["x_vector"])
    assert first.length >= x_vector.length + icl.ref_codes.shape[0]  # type: ignore[union-attr]


def test_instruct_is_part_of_the_custom_voice_prompt(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["custom_voice"]
    plain = custom_voice_prompt(tts, TEXT, speaker="Ryan")
    styled = custom_voice_prompt(tts, TEXT, speaker="Ryan", instruct="Very happy.")
    assert styled.length > plain.length


def test_prompt_carries_the_official_eos_suppression_and_min_tokens(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["custom_voice"]
    config = tts.model.config.talker_config
    prompt = custom_voice_prompt(tts, TEXT, speaker="Ryan")
    assert prompt.eos_token_id == config.codec_eos_token_id
    assert prompt.min_new_tokens == 2
    assert len(prompt.suppress_tokens) == 1023 and config.codec_eos_token_id not in prompt.suppress_tokens
    assert prompt.inputs_embeds.shape[0] == 1 and prompt.attention_mask.shape == prompt.inputs_embeds.shape[:2]


def test_building_prompts_leaves_the_shared_model_untouched(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["custom_voice"]
    talker = tts.model.talker
    instance_attributes = (set(vars(tts)), set(vars(tts.model)), set(vars(talker)))
    rope_deltas = talker.rope_deltas
    custom_voice_prompt(tts, TEXT, speaker="Ryan")
    assert "generate" not in vars(talker) and "generate" not in vars(tts.model)
    assert (set(vars(tts)), set(vars(tts.model)), set(vars(talker))) == instance_attributes
    assert talker.rope_deltas is rope_deltas  # the talker itself never ran


def test_prompts_built_on_many_threads_at_once_equal_the_serial_ones(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    tts = qwen_models["custom_voice"]
    texts = [f"Sentence number {n}, spoken by thread {n}." for n in range(6)]
    serial = [custom_voice_prompt(tts, text, speaker="Vivian") for text in texts]
    results: dict[int, TalkerPrompt] = {}
    errors: list[BaseException] = []

    def build(index: int) -> None:
        try:
            results[index] = custom_voice_prompt(tts, texts[index], speaker="Vivian")
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(len(texts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for index, expected in enumerate(serial):
        assert torch.equal(results[index].inputs_embeds, expected.inputs_embeds)
        assert torch.equal(results[index].trailing_text_hidden, expected.trailing_text_hidden)


def test_unknown_speaker_is_a_prompt_error(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(PromptError, match="(?i)speaker"):
        custom_voice_prompt(qwen_models["custom_voice"], TEXT, speaker="nobody")


def test_unknown_language_is_a_prompt_error(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(PromptError, match="(?i)language"):
        custom_voice_prompt(qwen_models["custom_voice"], TEXT, speaker="Ryan", language="klingon")


def test_voice_design_without_instruct_is_a_prompt_error(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(PromptError, match="instruct"):
        voice_design_prompt(qwen_models["voice_design"], TEXT, instruct=" ")


def test_icl_clone_without_ref_text_is_a_prompt_error(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(PromptError, match="ref_text"):
        ClonePrompt.from_audio(qwen_models["base"], reference_audio(), ref_text=None)


def test_empty_reference_audio_is_a_prompt_error(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(PromptError, match="reference audio"):
        ClonePrompt.from_audio(qwen_models["base"], reference_audio(seconds=0.0), x_vector_only=True)


def test_a_mode_the_checkpoint_does_not_serve_is_a_prompt_error(qwen_models: dict[str, Any]) -> None:  # noqa: F811
    with pytest.raises(PromptError, match="generate_custom_voice"):
        custom_voice_prompt(qwen_models["base"], TEXT, speaker="Ryan")
    with pytest.raises(PromptError, match="create_voice_clone_prompt"):
        ClonePrompt.from_audio(qwen_models["custom_voice"], reference_audio(), x_vector_only=True)
