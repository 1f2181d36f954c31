"""The cheap exponential race: torch's one-sample multinomial on CPU, bit for bit, with the logarithm
paid only for tokens that can win. These pin the torch facts it rests on, so an upgrade that
changes torch's kernel fails here rather than changing a seed's audio."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.engines.qwen3.races import cheap_race_applies, exponentials, race_from_words, race_rows
from realtime.engines.qwen3.sampling import TokenSampling, make_generator, process_logits

MANTISSA = (1 << 53) - 1


def probs_for(rows: int, vocab: int, params: TokenSampling, seed: int) -> torch.Tensor:
    logits = torch.randn((rows, vocab), generator=torch.Generator().manual_seed(seed)) * 3
    return process_logits(logits, params).softmax(-1)


def multinomials(probs: torch.Tensor, generators: list[torch.Generator]) -> torch.Tensor:
    return torch.cat([
        torch.multinomial(probs[row : row + 1], num_samples=1, generator=generators[row]) for row in range(len(generators))
    ])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("size", [1, 17, 2048, 3072])
def test_torch_exponentials_are_minus_log1p_of_the_generators_words(dtype: torch.dtype, size: int) -> None:
    for seed in range(40):
        drawn, worded = make_generator(seed), make_generator(seed)
        expected = torch.empty(size, dtype=dtype).exponential_(1, generator=drawn)
        words = torch.empty(size, dtype=torch.int64).random_(generator=worded)
        mine = torch.from_numpy(exponentials(words.numpy() & MANTISSA)).to(dtype)
        assert torch.equal(mine, expected)
        assert torch.equal(drawn.get_state(), worded.get_state()), "random_ must consume what exponential_ consumes"


def test_a_whole_stream_of_draws_at_the_models_sizes_matches_multinomial() -> None:
    """Thousands of draws as a stream makes them (one generator, sub-step after sub-step)."""
    for vocab, params in ((2048, TokenSampling(temperature=0.9, top_k=50)), (3072, TokenSampling(temperature=0.9, top_k=50))):
        probs = probs_for(4, vocab, params, seed=vocab)
        ours, torchs = [make_generator(70 + row) for row in range(4)], [make_generator(70 + row) for row in range(4)]
        for _ in range(300):
            assert torch.equal(race_rows(probs, ours), multinomials(probs, torchs))
        for mine, theirs in zip(ours, torchs, strict=True):
            assert torch.equal(mine.get_state(), theirs.get_state())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    vocab=st.sampled_from([1, 3, 64, 2048, 3072]),
    settings_per_row=st.lists(
        st.sampled_from([
            TokenSampling(temperature=0.9, top_k=50),
            TokenSampling(temperature=0.9, top_k=1),
            TokenSampling(temperature=1.0),  # every token a candidate: torch's own kernel
            TokenSampling(temperature=1.3, top_p=0.8),
            TokenSampling(temperature=0.05, top_p=0.5),
        ]),
        min_size=1,
        max_size=6,
    ),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**31 - 1),
)
def test_rows_with_few_and_many_candidates_race_as_torch_does(
    vocab: int, settings_per_row: list[TokenSampling], dtype: torch.dtype, seed: int
) -> None:
    probs = torch.cat([
        probs_for(1, vocab, setting, seed % 997 + row) for row, setting in enumerate(settings_per_row)
    ]).to(dtype)
    rows = len(settings_per_row)
    ours, torchs = [make_generator(seed + row) for row in range(rows)], [make_generator(seed + row) for row in range(rows)]
    assert cheap_race_applies(probs)
    assert torch.equal(race_rows(probs, ours), multinomials(probs, torchs))
    for mine, theirs in zip(ours, torchs, strict=True):
        assert torch.equal(mine.get_state(), theirs.get_state())


def test_rows_sharing_one_generator_draw_in_row_order() -> None:
    probs = torch.cat([probs_for(1, 2048, TokenSampling(top_k=50), 1), probs_for(1, 2048, TokenSampling(), 2),
                       probs_for(1, 2048, TokenSampling(top_k=5), 3)])
    shared, reference = make_generator(9), make_generator(9)
    assert torch.equal(race_rows(probs, [shared] * 3), multinomials(probs, [reference] * 3))
    assert torch.equal(shared.get_state(), reference.get_state())


def test_a_zero_word_races_as_torch_would_its_q_of_zero() -> None:
    """q = 0 (odds 2**-53): torch's 0/0 is NaN, which argmax picks, and p/0 is inf, which wins."""
    probs = torch.tensor([[0.5, 0.0, 0.5, 0.0], [0.25, 0.25, 0.25, 0.25]])
    words = torch.tensor([[5, 1 << 53, 7, 9], [3, 4, 0, 6]], dtype=torch.int64)  # (1 << 53) keeps no mantissa bit
    mantissas = words.numpy() & MANTISSA
    exact_q = torch.from_numpy(exponentials(mantissas.reshape(-1)).reshape(2, 4)).float()
    assert torch.equal(race_from_words(probs, words), (probs / exact_q).argmax(dim=-1, keepdim=True))
    assert race_from_words(probs, words).flatten().tolist() == [1, 2]


def test_the_cheap_race_is_for_cpu_floats_only() -> None:
    assert cheap_race_applies(torch.zeros(2, 3))
    assert not cheap_race_applies(torch.zeros(2, 3, dtype=torch.bfloat16))
    assert not cheap_race_applies(torch.zeros(2, 3, device="meta"))
