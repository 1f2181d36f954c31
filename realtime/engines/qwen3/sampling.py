"""Seeded token selection for the Qwen3 talker and its code predictor.

The official `generate_*` calls sample through transformers' `generate`, which draws from
the process-wide torch RNG, so two contexts running at once change each other's audio.
Here every draw comes from a `torch.Generator` owned by one context, and the logits are
processed exactly as transformers does for the official path, in its order:
repetition penalty, then (only when sampling) temperature, top-k, top-p, then a
multinomial draw; greedy takes the argmax after the repetition penalty. With the same
seed in the global RNG and in our generator, the draws are the same numbers, which the
tests use to pin the semantics down.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from realtime.engines.qwen3.race import draw_words, race, race_matches_torch

# transformers' fallbacks, used by the official wrapper when generation_config.json is
# silent (Qwen3TTSModel._merge_generate_kwargs).
_HARD_DEFAULTS: dict[str, Any] = {
    "do_sample": True,
    "top_k": 50,
    "top_p": 1.0,
    "temperature": 0.9,
    "repetition_penalty": 1.05,
    "subtalker_dosample": True,
    "subtalker_top_k": 50,
    "subtalker_top_p": 1.0,
    "subtalker_temperature": 0.9,
    "max_new_tokens": 2048,
}

# The protocol's `generation` settings that override the checkpoint's defaults, mapped to
# the official keyword names (the official spelling of the predictor's switch has no
# underscore between "do" and "sample").
OVERRIDE_KEYS: dict[str, str] = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "repetition_penalty": "repetition_penalty",
    "max_new_tokens": "max_new_tokens",
    "subtalker_do_sample": "subtalker_dosample",
    "subtalker_temperature": "subtalker_temperature",
    "subtalker_top_k": "subtalker_top_k",
    "subtalker_top_p": "subtalker_top_p",
}
OVERRIDABLE = tuple(OVERRIDE_KEYS)


@dataclass(frozen=True, slots=True)
class TokenSampling:
    """How one stream of tokens is chosen (the talker's codebook 0, or the residual codes)."""

    do_sample: bool = True
    temperature: float = 1.0
    top_k: int = 0
    top_p: float = 1.0
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if not 0.0 <= self.top_p <= 1.0:
            raise ValueError(f"top_p must be in 0..1, got {self.top_p}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")

    @property
    def greedy(self) -> bool:
        """Temperature 0 means "always the most likely token" (transformers would refuse it)."""
        return not self.do_sample or self.temperature == 0.0


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Every sampling setting of one generation: talker, code predictor and length."""

    talker: TokenSampling
    subtalker: TokenSampling
    max_new_tokens: int

    @classmethod
    def from_config(
        cls,
        generation_config: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> SamplingParams:
        """The checkpoint's `generation_config.json` dict, then the client's overrides.

        Keys missing from both fall back to the official wrapper's hard defaults. The
        overrides (the protocol's `generation` map; None values ignored) act on the
        talker, as the same keyword arguments do in the official `generate_*`, except the
        `subtalker_*` ones, which set the code predictor's sampling (the official
        `subtalker_dosample`, `subtalker_temperature`, `subtalker_top_k`, `subtalker_top_p`).
        """
        merged = dict(_HARD_DEFAULTS)
        for key, value in (generation_config or {}).items():
            if key in merged and value is not None:
                merged[key] = value
        for key, value in (overrides or {}).items():
            if key not in OVERRIDE_KEYS:
                raise ValueError(f"unknown generation setting {key!r}; known: {', '.join(OVERRIDABLE)}")
            if value is not None:
                merged[OVERRIDE_KEYS[key]] = value
        max_new_tokens = int(merged["max_new_tokens"])
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        return cls(
            talker=TokenSampling(
                do_sample=bool(merged["do_sample"]),
                temperature=float(merged["temperature"]),
                top_k=int(merged["top_k"]),
                top_p=float(merged["top_p"]),
                repetition_penalty=float(merged["repetition_penalty"]),
            ),
            subtalker=TokenSampling(
                do_sample=bool(merged["subtalker_dosample"]),
                temperature=float(merged["subtalker_temperature"]),
                top_k=int(merged["subtalker_top_k"]),
                top_p=float(merged["subtalker_top_p"]),
            ),
            max_new_tokens=max_new_tokens,
        )

    def greedy(self) -> SamplingParams:
        """The same settings with sampling switched off for both talker and code predictor."""
        return replace(
            self,
            talker=replace(self.talker, do_sample=False),
            subtalker=replace(self.subtalker, do_sample=False),
        )

    def official_kwargs(self) -> dict[str, Any]:
        """The same settings as keyword arguments of the official `generate_*` calls.

        Temperature 0 (our greedy) becomes `do_sample=False` there: transformers refuses it.
        """
        return {
            "do_sample": not self.talker.greedy,
            "temperature": self.talker.temperature,
            "top_k": self.talker.top_k,
            "top_p": self.talker.top_p,
            "repetition_penalty": self.talker.repetition_penalty,
            "subtalker_dosample": not self.subtalker.greedy,
            "subtalker_temperature": self.subtalker.temperature,
            "subtalker_top_k": self.subtalker.top_k,
            "subtalker_top_p": self.subtalker.top_p,
            "max_new_tokens": self.max_new_tokens,
        }


def make_generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    """A generator for one context; it must live on the device the logits live on."""
    generator = torch.Generator(device=device)
    generator.manual_seed(int(seed))
    return generator


def process_logits(logits: torch.Tensor, params: TokenSampling, history: torch.Tensor | None = None) -> torch.Tensor:
    """The scores transformers would sample from, for logits of shape (batch, vocab).

    `history` (batch, n) holds the tokens already generated in this stream; the
    repetition penalty divides their positive scores and multiplies their negative ones.
    Masked scores (-inf) stay masked. Returns a new float32 tensor.
    """
    scores = logits.to(dtype=torch.float32, copy=True)
    penalize_repetition(scores, params, history)
    return warp_scores(scores, params)


def penalize_repetition(scores: torch.Tensor, params: TokenSampling, history: torch.Tensor | None) -> None:
    """In place on float32 `scores` (batch, vocab): the repetition penalty over `history` (batch, n)."""
    if params.repetition_penalty != 1.0 and history is not None and history.numel() > 0:
        previous = torch.gather(scores, 1, history)
        previous = torch.where(previous < 0, previous * params.repetition_penalty, previous / params.repetition_penalty)
        scores.scatter_(1, history, previous)


def warp_scores(scores: torch.Tensor, params: TokenSampling) -> torch.Tensor:
    """What follows the repetition penalty: temperature, top-k, top-p (none when greedy). Row-wise."""
    if params.greedy:
        return scores
    if params.temperature != 1.0:
        scores = scores / params.temperature
    if params.top_k != 0:
        scores = keep_top_k(scores, min(params.top_k, scores.shape[-1]))
    if params.top_p < 1.0:
        sorted_scores, sorted_indices = torch.sort(scores, descending=False)
        cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
        sorted_remove = cumulative <= (1 - params.top_p)
        sorted_remove[..., -1:] = False  # keep at least the best token
        remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
        scores = scores.masked_fill(remove, float("-inf"))
    return scores


def keep_top_k(scores: torch.Tensor, k: int) -> torch.Tensor:
    """`scores` with everything below its row's k-th best score set to -inf (ties kept), as
    transformers' top-k warper does. On a CPU the k-th best comes from numpy's selection: the
    same value as `torch.topk`'s (a selection does no arithmetic), for about a quarter of the CPU
    at several rows (torch's topk and masked_fill cost ~25 and ~15 us per row of 2048)."""
    if scores.device.type == "cpu" and scores.dtype == torch.float32:
        array = scores.detach().numpy()
        vocab = array.shape[-1]
        kth_best = np.partition(array, vocab - k, axis=-1)[..., vocab - k : vocab - k + 1]
        return torch.from_numpy(np.where(array < kth_best, np.float32(-np.inf), array))
    kth_best = torch.topk(scores, k)[0][..., -1, None]
    return scores.masked_fill(scores < kth_best, float("-inf"))


def sample_next(
    logits: torch.Tensor,
    params: TokenSampling,
    generator: torch.Generator,
    history: torch.Tensor | None = None,
) -> torch.Tensor:
    """The next token for each row of `logits` (batch, vocab): shape (batch, 1), int64.

    Draws only from `generator`, never from the global RNG. Greedy (no draw at all)
    when `params.greedy`.
    """
    scores = process_logits(logits, params, history)
    if params.greedy:
        return scores.argmax(dim=-1, keepdim=True)
    probs = scores.softmax(dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)


def sample_rows(logits: torch.Tensor, params: Sequence[TokenSampling], generators: Sequence[torch.Generator]) -> torch.Tensor:
    """The next token of every row of `logits` (rows, vocab), row i with `params[i]` drawing from
    `generators[i]` only: shape (rows, 1), int64. No repetition history (the code predictor has none).

    Rows with the same settings are processed in one go (the processing is row-wise, so each
    row's scores are the same bits as alone); each draw still comes from its row's generator,
    so a row's tokens are those `sample_next` gives it alone.
    """
    picks: list[torch.Tensor | None] = [None] * logits.shape[0]
    groups: dict[TokenSampling, list[int]] = {}
    for row, setting in enumerate(params):
        groups.setdefault(setting, []).append(row)
    for setting, rows in groups.items():
        selected = logits if len(rows) == logits.shape[0] else logits[rows]
        scores = process_logits(selected, setting)
        if setting.greedy:
            chosen = scores.argmax(dim=-1, keepdim=True)
        else:
            chosen = draw_rows(scores.softmax(dim=-1), [generators[row] for row in rows])
        if len(groups) == 1:  # one setting for every row (the usual case): nothing to reassemble
            return chosen
        for index, row in enumerate(rows):
            picks[row] = chosen[index : index + 1]
    return torch.cat(picks)  # type: ignore[arg-type]  (several settings: every row was picked above)


def draw_rows(probs: torch.Tensor, generators: Sequence[torch.Generator]) -> torch.Tensor:
    """One token per row of `probs` (rows, vocab), row i drawn from `generators[i]` only: shape (rows, 1).

    The same numbers as `torch.multinomial(probs[i : i + 1], 1, generator=generators[i])` row by
    row, leaving each generator in the same state (`test_sampling` pins this against torch).
    torch draws one sample as `argmax(p / q)` with `q ~ Exp(1)` from the generator (the
    exponential race): only the `q` of each row must come from its own generator; the checks,
    the division and the argmax are row-wise and run once for all rows. A row's token
    therefore never depends on the other rows. On a CPU several rows race from their
    generators' words (`race.py`: about half the CPU of torch's fills); one row, or another
    device, takes torch's own call or fills (for one row the race saves nothing).
    """
    if probs.ndim != 2 or probs.shape[0] != len(generators):
        raise ValueError(f"probs must be (rows, vocab) with one generator per row, got {tuple(probs.shape)}")
    if probs.shape[0] > 1 and probs.device.type == "cpu" and probs.dtype == torch.float32 and race_matches_torch():
        scores = probs.detach().numpy()
        row_best = scores.max(axis=1)  # NaN where a row holds one
        _check_distributions(  # before any draw, as torch: a refused row leaves every generator untouched
            bool(scores.min() >= 0 and row_best.max() < np.inf), bool(row_best.min() > 0)
        )
        words = draw_words(probs.shape[0], probs.shape[1], list(generators))
        return torch.from_numpy(race(scores, words)).unsqueeze(1)
    if probs.shape[0] == 1:  # one row: torch's own call is the same draw, with its checks in C++
        return torch.multinomial(probs, num_samples=1, generator=generators[0])
    # torch's two checks, read back in one sync (on a GPU each read stalls the step); which one failed
    # is worked out only when one did
    in_range = (probs.max() < float("inf")) & (probs.min() >= 0)
    if not bool((in_range & (probs.sum(dim=1) != 0).all()).item()):
        _check_distributions(bool(in_range.item()), False)
    races = torch.empty_like(probs)
    for row, generator in enumerate(generators):
        races[row].exponential_(1, generator=generator)
    return (probs / races).argmax(dim=-1, keepdim=True)


def _check_distributions(in_range: bool, no_zero_row: bool) -> None:
    """torch.multinomial's two refusals, in its order and its words."""
    if not in_range:
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if not no_zero_row:
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
