"""torch's one-sample multinomial draw, computed from the same random numbers for a fraction of the CPU.

On a CPU, `torch.multinomial(p, 1, generator=g)` is an exponential race: one `Exp(1)`
number per category, `q_i = float32(-log1p(-u_i))` where `u_i` is the low 53 bits of one
64-bit word of `g` times 2^-53, and the token is `argmax(p / q)` (the first one on a tie; a
NaN wins). The C library's `log1p` is most of that cost, about 40 ns for each of the 2048 or
3072 categories, although only the few dozen that top-k leaves can win. Here:

1. the words come from `g` in one `random_` call per row (the same words, and `g` ends in
   the same state as after torch's draw);
2. the race runs with numpy's vectorised `log1p`, which may differ from the C library's in
   the last bit or two;
3. a row whose best quotient is not clear of the others by far more than that error (about
   one in ten thousand draws) is settled again with the C library's `log1p` (Python's
   `math.log1p`, as torch's kernel), over the categories that could still win.

So each token is torch's, bit for bit. `race_matches_torch` checks once per process that
this build of torch draws that way (the test suite pins it too); callers fall back to
torch's own call where it does not. Pure numpy, no I/O.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch

_MANTISSA = np.int64((1 << 53) - 1)  # the bits of a word that make a double in [0, 1)
_SCALE = 2.0**-53
# An approximate quotient is within ~3e-7 (relative) of the exact one (one float32 rounding of
# the wait and one of the division): the exact winner is always within this margin of the
# approximate best, which keeps a 300-fold safety factor.
_CONTENDER = np.float32(1 - 1e-4)
_SMALLEST_CLEAR = np.float32(1e-30)  # below this a quotient could be subnormal: settle exactly


def race(probs: np.ndarray, words: np.ndarray) -> np.ndarray:
    """The token of each row of `probs` (rows, vocab) float32, drawn from that row's `words`
    (rows, vocab) int64 as torch's multinomial draws it: shape (rows,), int64.

    `probs` must already have passed torch's checks (finite, >= 0, no all-zero row).
    """
    mantissas = words & _MANTISSA
    waits = np.negative(np.log1p(np.negative(mantissas * _SCALE))).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero wait (u = 0) gives inf or NaN, as in torch
        quotients = probs / waits
    best = quotients.max(axis=1)
    choice = quotients.argmax(axis=1)
    contenders = quotients >= (best * _CONTENDER)[:, None]  # NaN rows have none
    if not (best.min() > _SMALLEST_CLEAR and np.count_nonzero(contenders) == len(best) and np.isfinite(best).all()):
        clear = np.isfinite(best) & (best > _SMALLEST_CLEAR) & (np.count_nonzero(contenders, axis=1) == 1)
        for row in np.flatnonzero(~clear).tolist():
            settled = np.isfinite(best[row]) and best[row] > _SMALLEST_CLEAR
            columns = np.flatnonzero(contenders[row]) if settled else np.arange(probs.shape[1])
            choice[row] = _exact_winner(probs[row], mantissas[row], columns)
    return choice


def _exact_winner(probs: np.ndarray, mantissas: np.ndarray, columns: np.ndarray) -> int:
    """Among `columns` (ascending), the category torch's race picks, with the C library's log1p."""
    log1p = math.log1p
    waits = np.array([-log1p(-(m * _SCALE)) for m in mantissas[columns].tolist()], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        quotients = probs[columns] / waits.astype(np.float32)
    return int(columns[int(quotients.argmax())])


def draw_words(rows: int, vocab: int, generators: list[torch.Generator]) -> np.ndarray:
    """One 64-bit word per category from each row's generator (rows, vocab) int64: the words an
    `exponential_` fill of that row would consume, leaving each generator where it would."""
    words = torch.empty((rows, vocab), dtype=torch.int64)
    for row, generator in enumerate(generators):
        words[row].random_(generator=generator)
    return words.numpy()


_verdict: bool | None = None
_verdict_lock = threading.Lock()


def race_matches_torch() -> bool:
    """Does this build's `torch.multinomial` draw as `race` computes (checked once per process)?"""
    global _verdict
    if _verdict is None:
        with _verdict_lock:
            if _verdict is None:
                _verdict = _check_against_torch()
    return _verdict


def _check_against_torch() -> bool:
    source = torch.Generator().manual_seed(20261203)
    for trial in range(24):
        vocab = (7, 300, 2048, 3072)[trial % 4]
        logits = torch.randn((1, vocab), generator=source) * 3
        if trial % 2:
            logits = logits.masked_fill(logits < logits.topk(min(5 + trial, vocab)).values[:, -1:], float("-inf"))
        probs = logits.softmax(dim=-1)
        theirs, ours = torch.Generator().manual_seed(trial), torch.Generator().manual_seed(trial)
        expected = int(torch.multinomial(probs, 1, generator=theirs).item())
        got = int(race(probs.numpy(), draw_words(1, vocab, [ours]))[0])
        if got != expected or not torch.equal(theirs.get_state(), ours.get_state()):
            return False
    return True
