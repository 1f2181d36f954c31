"""Seeded sampling: settings merged as the official wrapper merges them, logits processed
exactly as transformers' processors do, every draw from the given generator only."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.generation.logits_process import (
    LogitsProcessorList,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from realtime.engines.qwen3.sampling import (
    SamplingParams,
    TokenSampling,
    draw_rows,
    keep_top_k,
    make_generator,
    process_logits,
    sample_next,
    sample_rows,
)

RELEASED_GENERATION_CONFIG = {
    "do_sample": True, "top_k": 50, "top_p": 1.0, "temperature": 0.9, "repetition_penalty": 1.05,
    "subtalker_dosample": True, "subtalker_top_k": 50, "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9, "max_new_tokens": 8192,
}


def random_logits(rows: int = 4, vocab: int = 300, seed: int = 0) -> torch.Tensor:
    return torch.randn((rows, vocab), generator=torch.Generator().manual_seed(seed)) * 3


def test_params_come_from_the_checkpoint_config() -> None:
    params = SamplingParams.from_config(RELEASED_GENERATION_CONFIG)
    assert params.talker == TokenSampling(do_sample=True, temperature=0.9, top_k=50, top_p=1.0, repetition_penalty=1.05)
    assert params.subtalker == TokenSampling(do_sample=True, temperature=0.9, top_k=50, top_p=1.0)
    assert params.max_new_tokens == 8192


def test_missing_keys_fall_back_to_the_official_hard_defaults() -> None:
    params = SamplingParams.from_config({"temperature": 0.5})
    assert params.talker.temperature == 0.5
    assert params.talker.repetition_penalty == 1.05 and params.talker.top_k == 50
    assert params.max_new_tokens == 2048


def test_protocol_overrides_win_for_the_talker_and_leave_the_code_predictor_alone() -> None:
    overrides = {"temperature": 0.3, "top_p": 0.8, "top_k": 7, "repetition_penalty": 1.2, "max_new_tokens": 100}
    params = SamplingParams.from_config(RELEASED_GENERATION_CONFIG, overrides)
    assert params.talker == TokenSampling(do_sample=True, temperature=0.3, top_k=7, top_p=0.8, repetition_penalty=1.2)
    assert params.subtalker == SamplingParams.from_config(RELEASED_GENERATION_CONFIG).subtalker
    assert params.max_new_tokens == 100


def test_subtalker_overrides_set_the_code_predictor_and_leave_the_talker_alone() -> None:
    overrides = {"subtalker_do_sample": False, "subtalker_temperature": 0.4, "subtalker_top_k": 3, "subtalker_top_p": 0.7}
    params = SamplingParams.from_config(RELEASED_GENERATION_CONFIG, overrides)
    assert params.subtalker == TokenSampling(do_sample=False, temperature=0.4, top_k=3, top_p=0.7)
    assert params.talker == SamplingParams.from_config(RELEASED_GENERATION_CONFIG).talker
    assert params.official_kwargs()["subtalker_dosample"] is False


def test_absent_overrides_keep_the_config_value() -> None:
    params = SamplingParams.from_config(RELEASED_GENERATION_CONFIG, {"temperature": None, "top_k": None})
    assert params == SamplingParams.from_config(RELEASED_GENERATION_CONFIG)


def test_an_unknown_override_is_refused() -> None:
    with pytest.raises(ValueError, match="min_p"):
        SamplingParams.from_config(RELEASED_GENERATION_CONFIG, {"min_p": 0.1})


def test_out_of_range_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="top_p"):
        TokenSampling(top_p=1.5)
    with pytest.raises(ValueError, match="max_new_tokens"):
        SamplingParams.from_config(RELEASED_GENERATION_CONFIG, {"max_new_tokens": 0})


def test_official_kwargs_round_trip_through_the_config() -> None:
    params = SamplingParams.from_config(RELEASED_GENERATION_CONFIG, {"top_k": 9})
    assert SamplingParams.from_config(params.official_kwargs()) == params


def test_processing_equals_transformers_processors_in_their_order() -> None:
    logits = random_logits()
    history = torch.randint(0, 300, (4, 12), generator=torch.Generator().manual_seed(1))
    for temperature, top_k, top_p in ((0.9, 50, 1.0), (0.7, 0, 0.8), (1.3, 20, 0.5), (1.0, 3, 0.95)):
        params = TokenSampling(temperature=temperature, top_k=top_k, top_p=top_p, repetition_penalty=1.1)
        processors = LogitsProcessorList([RepetitionPenaltyLogitsProcessor(1.1)])
        if temperature != 1.0:
            processors.append(TemperatureLogitsWarper(temperature))
        if top_k:
            processors.append(TopKLogitsWarper(top_k))
        if top_p < 1.0:
            processors.append(TopPLogitsWarper(top_p))
        expected = processors(history, logits.clone())  # type: ignore[arg-type]
        assert torch.equal(process_logits(logits, params, history), expected), (temperature, top_k, top_p)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    rows=st.integers(1, 9),
    vocab=st.sampled_from([1, 2, 7, 300, 2048]),
    k=st.integers(1, 60),
    levels=st.sampled_from([3, 40, 1000]),
    seed=st.integers(0, 2**31 - 1),
)
def test_top_k_keeps_what_transformers_top_k_warper_keeps(rows: int, vocab: int, k: int, levels: int, seed: int) -> None:
    """numpy's selection on a CPU, with ties (few distinct levels), -inf and a NaN, equals torch.topk's masking."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, levels, (rows, vocab), generator=generator).float() / 7
    scores[torch.rand((rows, vocab), generator=generator) < 0.1] = float("-inf")
    if seed % 5 == 0:
        scores[0, seed % vocab] = float("nan")
    k = min(k, vocab)
    expected = TopKLogitsWarper(k)(None, scores.clone())  # type: ignore[arg-type]
    kept = keep_top_k(scores, k)
    assert torch.equal(kept.isnan(), expected.isnan())
    assert torch.equal(kept[~kept.isnan()], expected[~expected.isnan()])


def test_greedy_takes_the_argmax_after_the_repetition_penalty() -> None:
    logits = torch.tensor([[2.0, 1.95, -1.0]])
    plain = TokenSampling(do_sample=False)
    penalised = TokenSampling(do_sample=False, repetition_penalty=1.05)
    history = torch.tensor([[0]])
    generator = make_generator(0)
    assert sample_next(logits, plain, generator, history).item() == 0
    assert sample_next(logits, penalised, generator, history).item() == 1  # 2.0 / 1.05 < 1.95


def test_temperature_zero_is_greedy() -> None:
    logits = random_logits(rows=8)
    zero = TokenSampling(do_sample=True, temperature=0.0)
    assert torch.equal(sample_next(logits, zero, make_generator(3)), logits.argmax(-1, keepdim=True))


def test_same_seed_gives_the_same_draws_and_another_seed_other_draws() -> None:
    logits = random_logits(rows=64)
    params = TokenSampling(temperature=1.0)
    first = sample_next(logits, params, make_generator(42))
    assert torch.equal(first, sample_next(logits, params, make_generator(42)))
    assert not torch.equal(first, sample_next(logits, params, make_generator(43)))


def test_draws_equal_transformers_multinomial_on_the_global_rng_with_the_same_seed() -> None:
    logits = random_logits(rows=16)
    params = TokenSampling(temperature=0.9, top_k=50)
    torch.manual_seed(7)
    expected = torch.multinomial(process_logits(logits, params).softmax(-1), num_samples=1)
    assert torch.equal(sample_next(logits, params, make_generator(7)), expected)


def test_sampling_never_touches_the_global_rng() -> None:
    before = torch.get_rng_state()
    sample_next(random_logits(rows=32), TokenSampling(), make_generator(5))
    assert torch.equal(before, torch.get_rng_state())


def test_top_k_and_top_p_confine_the_draws() -> None:
    logits = random_logits(rows=1, vocab=100).expand(2000, -1)
    allowed_k = set(logits[0].topk(5).indices.tolist())
    drawn_k = set(sample_next(logits, TokenSampling(temperature=1.0, top_k=5), make_generator(1)).flatten().tolist())
    assert drawn_k <= allowed_k and len(drawn_k) > 1
    probs = logits[0].softmax(-1)
    order = probs.argsort(descending=True)
    nucleus = set(order[: int((probs[order].cumsum(0) < 0.6).sum()) + 1].tolist())
    drawn_p = set(sample_next(logits, TokenSampling(temperature=1.0, top_p=0.6), make_generator(1)).flatten().tolist())
    assert drawn_p <= nucleus


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    rows=st.integers(1, 9),
    vocab=st.sampled_from([1, 2, 7, 300, 2048, 3072]),
    top_k=st.sampled_from([0, 1, 5, 50]),
    temperature=st.sampled_from([0.3, 0.9, 1.0, 2.0]),
    seed=st.integers(0, 2**31 - 1),
    used=st.integers(0, 3),
)
def test_batched_draws_are_torch_multinomials_row_by_row(
    rows: int, vocab: int, top_k: int, temperature: float, seed: int, used: int
) -> None:
    """`draw_rows` relies on how torch draws one sample; this pins it: same tokens, same generator states."""
    probs = process_logits(random_logits(rows, vocab, seed % 1000), TokenSampling(temperature=temperature, top_k=top_k)).softmax(-1)
    seeds = [seed + row for row in range(rows)]
    expected_generators, batched_generators = [make_generator(s) for s in seeds], [make_generator(s) for s in seeds]
    for generator in (*expected_generators, *batched_generators):  # generators part way through their streams
        torch.empty(used * 17).exponential_(generator=generator)
    expected = torch.cat([
        torch.multinomial(probs[row : row + 1], num_samples=1, generator=expected_generators[row]) for row in range(rows)
    ])
    assert torch.equal(draw_rows(probs, batched_generators), expected)
    for mine, theirs in zip(batched_generators, expected_generators, strict=True):
        assert torch.equal(mine.get_state(), theirs.get_state())


@pytest.mark.parametrize("bad", ["nan", "negative", "all zero"])
def test_batched_draws_refuse_what_multinomial_refuses(bad: str) -> None:
    probs = torch.full((3, 5), 0.2)
    probs[1] = {"nan": float("nan"), "negative": -0.2, "all zero": 0.0}[bad]
    with pytest.raises(RuntimeError) as theirs:
        torch.multinomial(probs[1:2], 1, generator=make_generator(0))
    with pytest.raises(RuntimeError) as ours:
        draw_rows(probs, [make_generator(row) for row in range(3)])
    assert str(ours.value) in str(theirs.value)  # the same reason, in torch's words


def test_a_rows_residual_code_is_the_same_alone_and_among_rows_with_other_settings() -> None:
    logits = random_logits(rows=5, vocab=2048, seed=3)
    settings_per_row = [
        TokenSampling(temperature=0.9, top_k=50), TokenSampling(do_sample=False), TokenSampling(temperature=0.9, top_k=50),
        TokenSampling(temperature=1.3, top_p=0.8), TokenSampling(temperature=0.9, top_k=50),
    ]
    together = sample_rows(logits, settings_per_row, [make_generator(10 + row) for row in range(5)])
    for row in range(5):
        alone = sample_next(logits[row : row + 1], settings_per_row[row], make_generator(10 + row))
        assert torch.equal(together[row : row + 1], alone)


@pytest.mark.parametrize("setting", [TokenSampling(temperature=0.9, top_k=50), TokenSampling(do_sample=False)])
def test_rows_sharing_one_setting_get_each_rows_own_token_in_row_order(setting: TokenSampling) -> None:
    logits = random_logits(rows=4, vocab=2048, seed=5)
    together = sample_rows(logits, [setting] * 4, [make_generator(20 + row) for row in range(4)])
    assert together.shape == (4, 1)
    for row in range(4):
        assert torch.equal(together[row : row + 1], sample_next(logits[row : row + 1], setting, make_generator(20 + row)))
