"""torch's one-sample `multinomial` draw on CPU, bit for bit, paying for the logarithm only where it matters.

`torch.multinomial(p, 1, generator=g)` on CPU (torch 2.13, aten `multinomial`'s fast path)
is the exponential race `argmax(p / q)` with `q = empty_like(p).exponential_(1, g)`. The CPU
`exponential_` kernel (no MKL generator in open-source builds: torch disables it, pytorch#132395)
is serial: element by element it takes one 64-bit word from the generator's mt19937
(`random64`), makes `u = (word & (2**53 - 1)) * 2**-53` and returns `-log1p(-u)` in double
(glibc's `log1p`), cast to the tensor's dtype. That is most of a draw's time (about 37 ns a
number, against 7 ns for the word alone), and with top-k most of the numbers are wasted: a
token whose probability is 0 gets `0 / q = 0` and can never win.

So here a row's words come from the generator with `random_` on int64 (the same `random64`
per element, so the generator ends where `exponential_` leaves it: its next draws are
unchanged), and `-log1p(-u)` is computed only for the tokens that can win (probability > 0),
with Python's `math.log1p`, which is the same glibc function on the same double (numpy's and
torch's vectorised logarithms are not: their last bits may differ). The rest is IEEE arithmetic
done in numpy, which costs a microsecond an operation where a torch call costs several: the
cast to float32 (round to nearest, as torch's cast) and the division are exact operations,
so each candidate's ratio is torch's. Every other token keeps ratio 0, which is what torch
gives it too, and the candidates keep their places, so `argmax` (first index of the largest
ratio) picks what torch picks. The one case where a
zero-probability token is not 0 in torch's race is `q == 0` (a word whose low 53 bits are all
zero: `0 / 0` is NaN and argmax picks NaN); a row holding such a word (odds 2**-53 a word)
takes every token as a candidate, which is torch's race exactly.

`tests/engines/qwen3/test_races.py` pins all of this against `torch.multinomial` and
`exponential_` directly; a torch upgrade that changes the kernel fails those tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

_MANTISSA_MASK = (1 << 53) - 1
_UNIT = 2.0**-53  # uniform = mantissa bits * 2**-53, as torch's `uniform_real_distribution<double>`
_EXACT_DTYPES = (torch.float32, torch.float64)  # a double rounds to these in one step, as torch's cast does
# A row with more candidates than 1/8 of its tokens draws with torch's own kernel: there the
# Python logarithms (about 0.1 us each) would cost more than they save.
_MAX_CANDIDATE_SHARE = 8


def cheap_race_applies(probs: torch.Tensor) -> bool:
    """Whether `race_rows` reproduces torch's draw for `probs` (CPU, float32 or float64)."""
    return probs.device.type == "cpu" and probs.dtype in _EXACT_DTYPES


def race_rows(probs: torch.Tensor, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """One token per row of `probs` (rows, vocab), the one `torch.multinomial(probs[i : i + 1], 1,
    generator=generators[i])` picks, each generator left where that call leaves it: shape (rows, 1).

    `probs` must already be valid (finite, >= 0, no all-zero row: the caller checks, as torch does)
    and `cheap_race_applies(probs)`. Rows whose candidates are too many for the cheap path (no
    top-k, a flat distribution) take torch's own `exponential_`, the same numbers.
    """
    rows, vocab = probs.shape
    weights = probs.detach().numpy()
    candidates = weights > 0
    words = torch.empty((rows, vocab), dtype=torch.int64)
    full: dict[int, torch.Tensor] = {}  # rows raced with torch's exponential_ (many candidates)
    for row, (generator, count) in enumerate(zip(generators, candidates.sum(axis=1).tolist(), strict=True)):
        if count * _MAX_CANDIDATE_SHARE > vocab:
            full[row] = torch.empty_like(probs[row]).exponential_(1, generator=generator)
        else:  # in row order, as row-by-row calls draw (generators may repeat)
            words[row].random_(generator=generator)
    if not full:
        return race_from_words(probs, words, candidates)
    chosen = torch.empty((rows, 1), dtype=torch.int64)
    for row, races in full.items():
        chosen[row] = (probs[row] / races).argmax()
    cheap = [row for row in range(rows) if row not in full]
    if cheap:
        chosen[cheap] = race_from_words(probs[cheap], words[cheap], candidates[cheap])
    return chosen


def race_from_words(probs: torch.Tensor, words: torch.Tensor, candidates: np.ndarray | None = None) -> torch.Tensor:
    """`argmax(probs / q)` per row (rows, 1), with `q` the Exp(1) numbers torch's CPU `exponential_`
    makes from the 64-bit generator `words` (rows, vocab) int64, computed only where `candidates`
    (default: probs > 0)."""
    weights = probs.detach().numpy()
    if candidates is None:
        candidates = weights > 0
    mantissas = words.numpy() & _MANTISSA_MASK
    if not mantissas.all():  # some q is exactly 0 (odds 2**-53 a word), candidate or not
        return _race_with_zero(probs, mantissas)
    races = exponentials(mantissas[candidates]).astype(weights.dtype)
    ratios = np.zeros_like(weights)
    ratios[candidates] = weights[candidates] / races
    return torch.from_numpy(ratios.argmax(axis=1, keepdims=True))


def exponentials(mantissas: np.ndarray) -> np.ndarray:
    """`-log1p(-m * 2**-53)` in double for each 53-bit `m` (1-D): torch's Exp(1) numbers before the cast.

    `m * 2**-53` and the negations are exact in double; the logarithm is glibc's, as in torch."""
    uniforms = np.negative(mantissas * _UNIT).tolist()
    return np.negative(np.fromiter(map(math.log1p, uniforms), dtype=np.float64, count=len(uniforms)))


def _race_with_zero(probs: torch.Tensor, mantissas: np.ndarray) -> torch.Tensor:
    """torch's race over every token (its `q` rebuilt exactly, zeros included: 0/0 is NaN and wins
    torch's argmax, p/0 is inf), for the rare rows holding a zero word."""
    races = torch.from_numpy(exponentials(mantissas.reshape(-1)).reshape(mantissas.shape)).to(probs.dtype)
    return (probs / races).argmax(dim=-1, keepdim=True)
