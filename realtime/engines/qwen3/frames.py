"""Frame-by-frame generation: one 16-code codec frame per talker step, as soon as it exists.

The official path runs transformers' `generate` on the talker, whose forward samples the
15 residual codebooks through another `generate` on the code predictor; both draw from
the global torch RNG, and the talker keeps `rope_deltas` on the module between steps,
so two generations on one model corrupt each other. This loop drives the same modules
(the talker's transformer and codec head, the code predictor, the embeddings) itself:

- every draw comes from the caller's `torch.Generator` (see `sampling`), talker and code
  predictor alike, in the order the official path draws them;
- all per-generation state (KV caches, attention mask, rope delta, step counter, token
  history) lives in the `FrameStream`, never on the model, so concurrent streams on one
  model are safe without a lock;
- EOS, `min_new_tokens` and the suppressed control ids are handled as the official
  `generate` does, so greedy codes equal the official `generate_*` codes;
- a frame is yielded as soon as its 16 codes exist; the talker forward that the next
  frame needs runs on the following `next()`, after `should_stop()` is asked again.

Frame k is codebook-0 token k (chosen from the talker's logits) plus the 15 residual codes
the code predictor derives from it and the talker's last hidden state.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import torch

from realtime.engines.qwen3.prompts import TalkerPrompt
from realtime.engines.qwen3.sampling import SamplingParams, sample_next

FRAMES_PER_SECOND = 12.5

# Frame budget per character for `max_frames_for` (12.5 frames = 1 s of audio). Natural
# speech is about 1 frame per Latin letter (~14 characters/s) and 3 per CJK character
# (~4 characters/s); the budget is about twice that, and more for what is read out as
# words (digits, symbols).
_FRAMES_PER_LETTER = 2
_FRAMES_PER_LETTER_SPELLED = 4  # Latin letters inside CJK-language text are often spelled out
_FRAMES_PER_WIDE_CHARACTER = 6  # CJK ideographs, kana, hangul
_FRAMES_PER_DIGIT = 6  # "1999" is read as four or more words
_FRAMES_PER_SYMBOL = 3
_FRAMES_PER_SPACE = 1
_SLACK_FRAMES = 40  # ~3 s: breaths, pauses, a slow voice
_CJK_LANGUAGES = frozenset({"chinese", "japanese", "korean", "beijing_dialect", "sichuan_dialect"})

StopReason = Literal["eos", "limit", "stopped"]


@dataclass(frozen=True, slots=True)
class GenerationOutcome:
    """How one generation ended: EOS (normal), the frame bound, or `should_stop()`."""

    frames: int
    reason: StopReason
    max_frames: int

    @property
    def hit_limit(self) -> bool:
        """True when the model never emitted EOS within the bound: worth logging and telling the client."""
        return self.reason == "limit"


def _is_wide(character: str) -> bool:
    return unicodedata.east_asian_width(character) in ("W", "F") and unicodedata.category(character).startswith("L")


def max_frames_for(text: str, language: str | None = "auto", max_new_tokens: int = 8192) -> int:
    """A generous frame bound for speaking `text`, so a model that never emits EOS stops.

    Sum over characters: Latin (and other narrow) letters 2 frames (4 when `language`
    is Chinese, Japanese or Korean), CJK/kana/hangul 6, digits 6, other symbols 3,
    whitespace 1; plus 40 frames of slack. About twice natural speech (1 frame per
    letter, 3 per CJK character). Capped at `max_new_tokens - 1`, the most frames the
    official path can return for that `max_new_tokens` (its last token is never
    expanded into a frame), and never below 2.
    """
    letter = _FRAMES_PER_LETTER_SPELLED if (language or "").lower() in _CJK_LANGUAGES else _FRAMES_PER_LETTER
    frames = _SLACK_FRAMES
    for character in text:
        if character.isspace():
            frames += _FRAMES_PER_SPACE
        elif _is_wide(character):
            frames += _FRAMES_PER_WIDE_CHARACTER
        elif character.isdigit():
            frames += _FRAMES_PER_DIGIT
        elif character.isalpha():
            frames += letter
        else:
            frames += _FRAMES_PER_SYMBOL
    return max(2, min(frames, max_new_tokens - 1))


class FrameStream(Iterator[torch.Tensor]):
    """Iterates one utterance's codec frames, each a (16,) int64 tensor on the model's device.

    `outcome` is None while frames may still come and a `GenerationOutcome` once the
    stream has ended (EOS, the bound, or `should_stop()`); `close()` ends it early.
    Not thread-safe itself: one stream belongs to one worker at a time.
    """

    def __init__(
        self,
        tts: Any,
        prompt: TalkerPrompt,
        params: SamplingParams,
        generator: torch.Generator,
        should_stop: Callable[[], bool],
        max_frames: int,
        min_frames: int = 2,
    ) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        model = getattr(tts, "model", tts)  # the official wrapper, or the model itself
        self._talker = model.talker
        self._predictor = self._talker.code_predictor
        self._codebooks = int(self._talker.config.num_code_groups)
        self._prompt = prompt
        self._params = params
        self._generator = generator
        self._should_stop = should_stop
        self._max_frames = max_frames
        self._min_frames = max(min_frames, 0)
        self._device = prompt.inputs_embeds.device
        if generator.device.type != self._device.type:
            raise ValueError(f"the generator is on {generator.device}, the model on {self._device}: use make_generator(seed, device)")
        vocab = int(self._talker.config.vocab_size)
        self._suppressed = torch.zeros(vocab, dtype=torch.bool, device=self._device)
        if prompt.suppress_tokens:
            self._suppressed[list(prompt.suppress_tokens)] = True
        self._eos = prompt.eos_token_id
        self._history = torch.empty((1, 0), dtype=torch.long, device=self._device)
        self._frames = 0
        self._started = False
        self._next_input: torch.Tensor | None = None  # the talker input built from the last frame
        self._token: torch.Tensor | None = None  # the codebook-0 token of the next frame
        self._outcome: GenerationOutcome | None = None
        # Per-generation talker state (the official talker keeps some of it on the module).
        self._cache: Any = None
        self._attention_mask = prompt.attention_mask
        self._rope_delta: torch.Tensor | None = None
        self._past_hidden: torch.Tensor | None = None
        self._step = 0

    @property
    def outcome(self) -> GenerationOutcome | None:
        return self._outcome

    @property
    def frames(self) -> int:
        """Frames yielded so far."""
        return self._frames

    def __iter__(self) -> FrameStream:
        return self

    def __next__(self) -> torch.Tensor:
        if self._outcome is not None:
            raise StopIteration
        with torch.inference_mode():
            frame = self._advance()
        if frame is None:
            raise StopIteration
        return frame

    def close(self) -> None:
        """End the stream now (as a stop); frees its caches."""
        if self._outcome is None:
            self._finish("stopped")

    # -- the loop -------------------------------------------------------------------------

    def _finish(self, reason: StopReason) -> None:
        self._outcome = GenerationOutcome(frames=self._frames, reason=reason, max_frames=self._max_frames)
        self._cache = None
        self._next_input = None

    def _advance(self) -> torch.Tensor | None:
        if self._should_stop():
            self._finish("stopped")
            return None
        if self._frames >= self._max_frames:
            self._finish("limit")
            return None
        if not self._started:
            self._started = True
            logits = self._prefill()
        else:
            assert self._next_input is not None
            logits = self._talker_step(self._next_input)
        self._token = self._choose_token(logits)
        if int(self._token.item()) == self._eos:
            self._finish("eos")
            return None
        if self._should_stop():
            self._finish("stopped")
            return None
        frame, self._next_input = self._residual_codes(self._token)
        self._frames += 1
        return frame

    def _choose_token(self, logits: torch.Tensor) -> torch.Tensor:
        """Codebook-0 token from the last position's logits, with the official masks."""
        scores = logits[:, -1, :].to(dtype=torch.float32, copy=True)
        scores = scores.masked_fill(self._suppressed, float("-inf"))
        if self._history.shape[1] < self._min_frames:
            scores[:, self._eos] = float("-inf")
        token = sample_next(scores, self._params.talker, self._generator, self._history)
        self._history = torch.cat([self._history, token], dim=1)
        return token

    def _prefill(self) -> torch.Tensor:
        from transformers.cache_utils import DynamicCache

        prompt = self._prompt
        mask = self._attention_mask
        # As the official talker forward does on its first call, without storing the delta on the module.
        position_ids, rope_deltas = self._talker.get_rope_index(mask)
        self._rope_delta = rope_deltas - (1 - mask).sum(dim=-1).unsqueeze(1)
        self._cache = DynamicCache()
        out = self._talker.model(
            inputs_embeds=prompt.inputs_embeds,
            attention_mask=mask,
            position_ids=position_ids,
            past_key_values=self._cache,
            use_cache=True,
            cache_position=torch.arange(prompt.length, device=self._device),
        )
        hidden = out.last_hidden_state
        self._past_hidden = hidden[:, -1:, :]
        self._step = 0
        return self._talker.codec_head(hidden)

    def _talker_step(self, inputs_embeds: torch.Tensor) -> torch.Tensor:
        self._attention_mask = torch.cat([self._attention_mask, self._attention_mask.new_ones((1, 1))], dim=1)
        position = self._attention_mask.shape[1] - 1
        cache_position = torch.tensor([position], device=self._device)
        assert self._rope_delta is not None
        position_ids = (cache_position.view(1, 1) + self._rope_delta).unsqueeze(0).expand(3, -1, -1)
        out = self._talker.model(
            inputs_embeds=inputs_embeds,
            attention_mask=self._attention_mask,
            position_ids=position_ids,
            past_key_values=self._cache,
            use_cache=True,
            cache_position=cache_position,
        )
        hidden = out.last_hidden_state
        self._past_hidden = hidden[:, -1:, :]
        return self._talker.codec_head(hidden)

    def _residual_codes(self, token: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The frame for `token` (codebooks 1..15 from the code predictor) and the talker's next input."""
        from transformers.cache_utils import DynamicCache

        talker, predictor = self._talker, self._predictor
        token_embed = talker.get_input_embeddings()(token)  # (1, 1, hidden)
        assert self._past_hidden is not None
        inputs_embeds = torch.cat((self._past_hidden, token_embed), dim=1)
        cache = DynamicCache()
        length = inputs_embeds.shape[1]
        mask = torch.ones((1, length), dtype=torch.long, device=self._device)
        out = predictor(
            inputs_embeds=inputs_embeds,
            attention_mask=mask,
            past_key_values=cache,
            use_cache=True,
            cache_position=torch.arange(length, device=self._device),
        )
        codes: list[torch.Tensor] = []
        embeds = [token_embed]
        residual_embeddings = predictor.get_input_embeddings()
        for group in range(self._codebooks - 1):
            code = sample_next(out.logits[:, -1, :], self._params.subtalker, self._generator)
            codes.append(code)
            embeds.append(residual_embeddings[group](code))
            if group == self._codebooks - 2:
                break
            mask = torch.cat([mask, mask.new_ones((1, 1))], dim=1)
            out = predictor(
                input_ids=code,
                attention_mask=mask,
                past_key_values=cache,
                use_cache=True,
                cache_position=torch.tensor([mask.shape[1] - 1], device=self._device),
                generation_steps=out.generation_steps,
            )
        frame = torch.cat([token, *codes], dim=1)[0]
        next_input = torch.cat(embeds, dim=1).sum(1, keepdim=True)
        trailing = self._prompt.trailing_text_hidden
        if self._step < trailing.shape[1]:
            next_input = next_input + trailing[:, self._step].unsqueeze(1)
        else:
            next_input = next_input + self._prompt.tts_pad_embed
        self._step += 1
        return frame, next_input


def generate_frames(
    tts: Any,
    prompt: TalkerPrompt,
    params: SamplingParams,
    generator: torch.Generator,
    should_stop: Callable[[], bool],
    max_frames: int,
    min_frames: int = 2,
) -> FrameStream:
    """Stream one utterance's codec frames; see `FrameStream` (its `outcome` says how it ended).

    `tts` is the loaded official `Qwen3TTSModel` (or its `.model`); `generator` must live
    on the model's device; `should_stop()` is asked before each talker forward and each
    code-predictor pass; at most `max_frames` frames (see `max_frames_for`), and EOS is
    not accepted before `min_frames` frames exist (2, the official `min_new_tokens`;
    `prompt.min_new_tokens` holds the official value).
    """
    return FrameStream(tts, prompt, params, generator, should_stop, max_frames, min_frames)
