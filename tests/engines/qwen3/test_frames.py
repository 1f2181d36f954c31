"""The frame-by-frame step loop: official sampling semantics on a per-context generator,
per-stream state (interleaved and concurrent streams equal solo ones), cancel within one
step, a frame bound that stops a model that never ends, EOS never before two frames."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import torch

from realtime.engines.qwen3.frames import GenerationOutcome, generate_frames, max_frames_for
from realtime.engines.qwen3.prompts import TalkerPrompt, custom_voice_prompt
from realtime.engines.qwen3.sampling import SamplingParams, make_generator
from tests.support.qwen_models import load_tiny, official_codes, qwen_models  # noqa: F401  (fixture)

TEXT = "Hello world, this is a test."
FRAMES = 10


def never() -> bool:
    return False


@pytest.fixture(scope="module")
def tts(qwen_models: dict[str, Any]) -> Any:  # noqa: F811
    return qwen_models["custom_voice"]


@pytest.fixture(scope="module")
def sampled(tts: Any) -> SamplingParams:
    return SamplingParams.from_config(tts.generate_defaults)


@pytest.fixture(scope="module")
def prompt(tts: Any) -> TalkerPrompt:
    return custom_voice_prompt(tts, TEXT, speaker="Ryan", language="English")


def codes(tts: Any, prompt: TalkerPrompt, params: SamplingParams, seed: int, frames: int = FRAMES) -> torch.Tensor:
    return torch.stack(list(generate_frames(tts, prompt, params, make_generator(seed), never, max_frames=frames)))


def test_frames_are_sixteen_codes_in_the_codebook_ranges(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    frames = codes(tts, prompt, sampled, seed=1)
    assert frames.shape == (FRAMES, 16) and frames.dtype == torch.long
    assert int(frames.min()) >= 0 and int(frames.max()) < 2048  # control ids are suppressed in codebook 0


def test_sampled_codes_equal_the_official_call_seeded_the_same(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    # Same seed in the global RNG (official) and in our generator: the same draws in the same
    # order, so any difference in processing or order would show.
    torch.manual_seed(1234)
    official = official_codes(tts, "generate_custom_voice", FRAMES, sampled, text=TEXT, speaker="Ryan", language="English")
    assert torch.equal(official, codes(tts, prompt, sampled, seed=1234))


def test_protocol_overrides_reach_the_sampler(tts: Any, prompt: TalkerPrompt) -> None:
    params = SamplingParams.from_config(tts.generate_defaults, {"temperature": 0.6, "top_k": 5, "top_p": 0.9})
    torch.manual_seed(99)
    official = official_codes(tts, "generate_custom_voice", FRAMES, params, text=TEXT, speaker="Ryan", language="English")
    assert torch.equal(official, codes(tts, prompt, params, seed=99))


def test_fully_greedy_settings_give_the_official_greedy_codes_whatever_the_seed(tts: Any, prompt: TalkerPrompt) -> None:
    # temperature 0 alone leaves the code predictor sampling; subtalker_do_sample false stops that too.
    params = SamplingParams.from_config(tts.generate_defaults, {"temperature": 0, "subtalker_do_sample": False})
    assert params.talker.greedy and params.subtalker.greedy
    official = official_codes(tts, "generate_custom_voice", FRAMES, params, text=TEXT, speaker="Ryan", language="English")
    assert torch.equal(official, codes(tts, prompt, params, seed=1))
    assert torch.equal(official, codes(tts, prompt, params, seed=2))
    half = SamplingParams.from_config(tts.generate_defaults, {"temperature": 0})
    assert not torch.equal(codes(tts, prompt, half, seed=1), codes(tts, prompt, half, seed=2))


def test_same_seed_same_codes_other_seed_other_codes(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    first = codes(tts, prompt, sampled, seed=7)
    assert torch.equal(first, codes(tts, prompt, sampled, seed=7))
    assert not torch.equal(first, codes(tts, prompt, sampled, seed=8))


def test_generation_leaves_the_global_rng_alone(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    before = torch.get_rng_state()
    codes(tts, prompt, sampled, seed=3)
    assert torch.equal(before, torch.get_rng_state())


def test_interleaved_generations_equal_each_run_alone(tts: Any, sampled: SamplingParams) -> None:
    first_prompt = custom_voice_prompt(tts, TEXT, speaker="Ryan", language="English")
    second_prompt = custom_voice_prompt(tts, "A different and somewhat longer line.", speaker="Vivian")
    solo_first = codes(tts, first_prompt, sampled, seed=11)
    solo_second = codes(tts, second_prompt, sampled, seed=12)
    streams = [
        generate_frames(tts, first_prompt, sampled, make_generator(11), never, max_frames=FRAMES),
        generate_frames(tts, second_prompt, sampled, make_generator(12), never, max_frames=FRAMES),
    ]
    got: list[list[torch.Tensor]] = [[], []]
    for _ in range(FRAMES):
        for index, stream in enumerate(streams):
            got[index].append(next(stream))
    assert torch.equal(torch.stack(got[0]), solo_first)
    assert torch.equal(torch.stack(got[1]), solo_second)


def test_generations_on_threads_at_once_equal_each_run_alone(tts: Any, sampled: SamplingParams) -> None:
    texts = ["One line.", "Another line, a bit longer.", "A third."]
    prompts = [custom_voice_prompt(tts, text, speaker="Ryan") for text in texts]
    solo = [codes(tts, p, sampled, seed=20 + n) for n, p in enumerate(prompts)]
    results: dict[int, torch.Tensor] = {}
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            results[index] = codes(tts, prompts[index], sampled, seed=20 + index)
        except BaseException as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(prompts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for index, expected in enumerate(solo):
        assert torch.equal(results[index], expected)


def test_should_stop_ends_the_stream_within_one_step(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    stop = threading.Event()
    asked = 0

    def should_stop() -> bool:
        nonlocal asked
        asked += 1
        return stop.is_set()

    stream = generate_frames(tts, prompt, sampled, make_generator(5), should_stop, max_frames=FRAMES)
    got = [next(stream) for _ in range(3)]
    stop.set()
    assert list(stream) == []
    assert len(got) == 3 and stream.outcome == GenerationOutcome(frames=3, reason="stopped", max_frames=FRAMES)
    assert asked >= 4  # asked at every step


def test_should_stop_is_asked_between_the_talker_and_the_code_predictor(
    tts: Any, prompt: TalkerPrompt, sampled: SamplingParams
) -> None:
    answers = iter([False, True])  # yes on the second question of the first step
    stream = generate_frames(tts, prompt, sampled, make_generator(5), lambda: next(answers), max_frames=FRAMES)
    assert list(stream) == []
    assert stream.outcome is not None and stream.outcome.reason == "stopped" and stream.outcome.frames == 0


def test_a_generator_on_another_device_is_refused_at_once(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    elsewhere = replace(prompt, inputs_embeds=prompt.inputs_embeds.to("meta"))  # as if the model were not on the CPU
    with pytest.raises(ValueError, match="make_generator"):
        generate_frames(tts, elsewhere, sampled, make_generator(0), never, max_frames=FRAMES)


def test_close_ends_the_stream(tts: Any, prompt: TalkerPrompt, sampled: SamplingParams) -> None:
    stream = generate_frames(tts, prompt, sampled, make_generator(5), never, max_frames=FRAMES)
    next(stream)
    assert stream.outcome is None
    stream.close()
    assert list(stream) == [] and stream.outcome is not None and stream.outcome.reason == "stopped"


def test_the_frame_bound_stops_a_model_that_never_ends_and_says_so(
    tts: Any, prompt: TalkerPrompt, sampled: SamplingParams
) -> None:
    greedy = sampled.greedy()
    # The random tiny model does not emit EOS within 40 frames on the official path either.
    official = official_codes(tts, "generate_custom_voice", 40, greedy, text=TEXT, speaker="Ryan", language="English")
    assert official.shape[0] == 40
    stream = generate_frames(tts, prompt, greedy, make_generator(0), never, max_frames=25)
    frames = list(stream)
    assert len(frames) == 25 and torch.equal(torch.stack(frames), official[:25])
    assert stream.outcome is not None and stream.outcome.hit_limit and stream.outcome.frames == 25


@pytest.fixture(scope="module")
def eager_to_end(tiny_checkpoints: dict[str, Any]) -> Iterator[Any]:
    """Its own copy of the custom-voice model whose talker always prefers EOS."""
    model = load_tiny(tiny_checkpoints["custom_voice"])
    eos = model.model.config.talker_config.codec_eos_token_id

    def prefer_eos(_module: Any, _inputs: Any, logits: torch.Tensor) -> torch.Tensor:
        boosted = logits.clone()
        boosted[..., eos] += 1e4
        return boosted

    handle = model.model.talker.codec_head.register_forward_hook(prefer_eos)
    yield model
    handle.remove()


def test_eos_is_refused_for_the_first_two_frames_as_the_official_path_does(
    eager_to_end: Any, sampled: SamplingParams
) -> None:
    tts = eager_to_end
    prompt = custom_voice_prompt(tts, TEXT, speaker="Ryan", language="English")
    official = official_codes(tts, "generate_custom_voice", FRAMES, sampled.greedy(), text=TEXT, speaker="Ryan", language="English")
    stream = generate_frames(tts, prompt, sampled.greedy(), make_generator(0), never, max_frames=FRAMES)
    ours = torch.stack(list(stream))
    assert official.shape[0] == 2 and torch.equal(ours, official)
    assert stream.outcome == GenerationOutcome(frames=2, reason="eos", max_frames=FRAMES)
    longer = generate_frames(tts, prompt, sampled, make_generator(0), never, max_frames=FRAMES, min_frames=4)
    assert len(list(longer)) == 4 and longer.outcome is not None and longer.outcome.reason == "eos"


def test_the_frame_bound_grows_with_the_text_and_is_generous() -> None:
    short, long = max_frames_for("Hi."), max_frames_for("Hi. " * 40)
    assert 2 <= short < long
    sentence = "The quick brown fox jumps over the lazy dog, twice."
    assert max_frames_for(sentence) >= 2 * len(sentence)  # natural speech: about 1 frame per letter
    chinese = "今天天气很好，我们去公园散步吧。"
    assert max_frames_for(chinese) >= 5 * len(chinese)  # natural speech: about 3 frames per character
    assert max_frames_for("In 1999 I paid $25.") > max_frames_for("In nnnn I paid xxx.")


def test_latin_letters_get_more_time_in_cjk_languages() -> None:
    assert max_frames_for("NASA", language="chinese") > max_frames_for("NASA", language="english")


def test_the_frame_bound_is_capped_by_max_new_tokens() -> None:
    text = "A long line of text. " * 100
    assert max_frames_for(text, max_new_tokens=300) == 299  # the official path yields at most max_new_tokens - 1
    assert max_frames_for(text, max_new_tokens=2) == 2
