"""The exponential race from the generators' words gives torch.multinomial's token, bit for bit,
including the rare rows it must settle with the C library's log1p."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import realtime.engines.qwen3.race as race_module
import realtime.engines.qwen3.sampling as sampling
from realtime.engines.qwen3.race import draw_words, race, race_matches_torch
from realtime.engines.qwen3.sampling import TokenSampling, draw_rows, make_generator, process_logits

_SCALE = 2.0**-53


def torch_race(probs: np.ndarray, words: np.ndarray) -> np.ndarray:
    """torch's own arithmetic for the race over given words: its Exp(1) formula (the C library's
    log1p on the word's low 53 bits, rounded to float32), torch's division and torch's argmax."""
    mantissas = words & ((1 << 53) - 1)
    waits = torch.tensor([[-math.log1p(-(int(m) * _SCALE)) for m in row] for row in mantissas.tolist()],
                         dtype=torch.float64).to(torch.float32)
    return (torch.from_numpy(probs) / waits).argmax(dim=-1).numpy()


def test_this_torch_draws_the_way_the_race_computes() -> None:
    """The fast path is the one in use here (the server falls back to torch's fills where it is not)."""
    assert race_matches_torch()


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    rows=st.integers(1, 6),
    vocab=st.sampled_from([2, 7, 300, 2048, 3072]),
    top_k=st.sampled_from([0, 1, 2, 50]),
    temperature=st.sampled_from([0.05, 0.9, 3.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_the_race_from_words_is_torch_multinomial_with_the_same_generator(
    rows: int, vocab: int, top_k: int, temperature: float, seed: int
) -> None:
    probs = process_logits(
        torch.randn((rows, vocab), generator=torch.Generator().manual_seed(seed)) * 4,
        TokenSampling(temperature=temperature, top_k=top_k),
    ).softmax(-1)
    theirs, ours = [make_generator(seed + r) for r in range(rows)], [make_generator(seed + r) for r in range(rows)]
    for _ in range(3):
        expected = [int(torch.multinomial(probs[r : r + 1], 1, generator=theirs[r])) for r in range(rows)]
        assert race(probs.numpy(), draw_words(rows, vocab, ours)).tolist() == expected
    assert all(torch.equal(a.get_state(), b.get_state()) for a, b in zip(ours, theirs, strict=True))


@pytest.mark.parametrize("trial", range(12))
def test_a_near_tie_is_settled_exactly_as_torch_settles_it(trial: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two categories whose quotients are within a float32 rounding of each other: the row goes
    to the exact path, and the winner is still torch.multinomial's."""
    settled: list[list[int]] = []
    exact_winner = race_module._exact_winner
    monkeypatch.setattr(race_module, "_exact_winner",
                        lambda p, m, columns: settled.append(columns.tolist()) or exact_winner(p, m, columns))
    vocab = 300
    peek = make_generator(trial)
    mantissas = draw_words(1, vocab, [peek])[0] & ((1 << 53) - 1)
    waits = np.array([-math.log1p(-(int(m) * _SCALE)) for m in mantissas.tolist()])
    first, second = 3 + trial, 100 + 7 * trial
    probs = np.zeros((1, vocab), dtype=np.float32)
    probs[0, first] = 0.4
    probs[0, second] = np.float32(0.4 * waits[second] / waits[first] * (1 + (trial - 6) * 1e-7))  # near-equal quotients
    probs[0, 250] = np.float32(0.1 * waits[250] / waits[first])  # a third, clearly behind
    expected = int(torch.multinomial(torch.from_numpy(probs), 1, generator=make_generator(trial)))
    assert int(race(probs, draw_words(1, vocab, [make_generator(trial)]))[0]) == expected
    assert settled == [[first, second]]  # the exact path ran, over the two contenders only


def test_an_exact_tie_goes_to_the_first_category_as_in_torch() -> None:
    probs = np.array([[0.0, 0.5, 0.0, 0.5]], dtype=np.float32)
    words = np.array([[11, 2**40 + 5, 99, 2**40 + 5]], dtype=np.int64)  # the same wait for both
    assert race(probs, words).tolist() == torch_race(probs, words).tolist() == [1]


def test_a_zero_wait_behaves_as_in_torch() -> None:
    """u = 0 gives a zero wait: p / 0 is inf for a possible category and NaN (which argmax takes)
    for an impossible one, as in torch's own division and argmax (torch leaves this 2^-53 case be)."""
    probs = np.array([[0.3, 0.7, 0.0], [0.0, 0.6, 0.4]], dtype=np.float32)
    words = np.array([[5, 2**52, 1 << 60], [2**50, 2**51, 2**52]], dtype=np.int64)  # row 0: 1 << 60 has zero low bits
    assert race(probs, words).tolist() == torch_race(probs, words).tolist() == [2, 1]
    words[1, 0] = 0  # a possible category with a zero wait: inf wins
    words[0] = [0, 2**52, 3]
    assert race(probs, words).tolist() == torch_race(probs, words).tolist() == [0, 0]


@pytest.mark.parametrize("fast", [True, False])
def test_draw_rows_gives_the_same_tokens_on_either_path(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where the self-check fails (another torch build) the rows fall back to torch's fills: same tokens."""
    monkeypatch.setattr(sampling, "race_matches_torch", lambda: fast)
    probs = process_logits(torch.randn((5, 2048), generator=torch.Generator().manual_seed(1)) * 3,
                           TokenSampling(temperature=0.9, top_k=50)).softmax(-1)
    generators = [make_generator(40 + r) for r in range(5)]
    expected = [int(torch.multinomial(probs[r : r + 1], 1, generator=make_generator(40 + r))) for r in range(5)]
    assert draw_rows(probs, generators).flatten().tolist() == expected
