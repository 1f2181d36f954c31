"""The talker prompt for each mode, built by the official code itself.

`qwen_tts` builds the talker's input (the prefix embeddings, the text still to be fed
one position per step, the pad embedding) inside `Qwen3TTSForConditionalGeneration.generate`
and hands it straight to `talker.generate`; there is no separate builder to call. Rather
than re-implement ~150 lines of it, we run the official `generate_custom_voice` /
`generate_voice_design` / `generate_voice_clone` on a per-call stand-in for the loaded
model whose `talker.generate` records its arguments and stops the call. The stand-in
delegates every other attribute to the real model, so the official validation,
tokenisation, speaker/dialect/language handling and ICL layout all run unchanged, and
nothing shared is mutated: two threads can build prompts on one model at once.

Prompt building holds one module-level lock for its few milliseconds: the Hugging Face
fast tokenizer behind the official processor is not safe to call from several threads.

`ClonePrompt` is the voice-clone reference (speaker x-vector, and for ICL the reference
codes and text), computed once per context by the official `create_voice_clone_prompt`
and reused for every segment. For ICL the official `generate_voice_clone` decodes
`ref_codes` followed by the generated codes and cuts the reference's share of the audio
off the front: a streaming decoder primed with `ref_codes` (their audio discarded) gives
the generated frames the same left context.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

REFERENCE_SAMPLE_RATE = 24_000

_prompt_lock = threading.Lock()


class PromptError(ValueError):
    """The request cannot be turned into a prompt (unknown speaker or language, wrong model type...)."""


@dataclass(frozen=True, slots=True)
class TalkerPrompt:
    """What the official generate passes to the talker, for one utterance (batch of 1).

    `inputs_embeds` (1, L, hidden) is the prefill; `trailing_text_hidden` (1, T, hidden)
    is added to the input of generation step k while k < T, `tts_pad_embed` (1, 1, hidden)
    after that. `suppress_tokens` are the codebook-0 ids never to emit (control ids other
    than EOS); EOS is masked until `min_new_tokens` tokens exist.
    """

    inputs_embeds: torch.Tensor
    attention_mask: torch.Tensor
    trailing_text_hidden: torch.Tensor
    tts_pad_embed: torch.Tensor
    eos_token_id: int
    suppress_tokens: tuple[int, ...]
    min_new_tokens: int

    @property
    def length(self) -> int:
        """Prefill length in positions."""
        return int(self.inputs_embeds.shape[1])


@dataclass(frozen=True, slots=True)
class ClonePrompt:
    """A voice-clone reference, computed once per context and reused for every segment.

    `x_vector` is the speaker embedding; in ICL mode `ref_codes` (frames, 16) are the
    reference audio's codec frames and `ref_text` its transcript. `item` is the official
    `VoiceClonePromptItem` holding the same tensors.
    """

    item: Any

    @property
    def x_vector(self) -> torch.Tensor:
        return self.item.ref_spk_embedding

    @property
    def ref_codes(self) -> torch.Tensor | None:
        return self.item.ref_code

    @property
    def ref_text(self) -> str | None:
        return self.item.ref_text

    @property
    def icl(self) -> bool:
        return bool(self.item.icl_mode)

    @classmethod
    def from_audio(
        cls,
        tts: Any,
        samples: np.ndarray,
        ref_text: str | None = None,
        x_vector_only: bool = False,
    ) -> ClonePrompt:
        """Encode mono float32 24 kHz reference audio with the official `create_voice_clone_prompt`.

        ICL (the default) needs `ref_text`; `x_vector_only` uses the speaker embedding alone.
        """
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim != 1 or audio.size == 0:
            raise PromptError(f"reference audio must be non-empty mono samples, got shape {audio.shape}")
        if not x_vector_only and not (ref_text and ref_text.strip()):
            raise PromptError("ref_text is required for voice cloning unless x_vector_only is set")
        try:
            items = tts.create_voice_clone_prompt(
                ref_audio=(audio, REFERENCE_SAMPLE_RATE),
                ref_text=None if x_vector_only else ref_text,
                x_vector_only_mode=x_vector_only,
            )
        except ValueError as error:
            raise PromptError(str(error)) from error
        return cls(item=items[0])


    @classmethod
    def from_stored(
        cls, x_vector: np.ndarray, ref_codes: np.ndarray | None, ref_text: str | None, device: Any
    ) -> ClonePrompt:
        """A clone prompt from a saved voice's tensors: no reference audio is decoded or encoded."""
        from qwen_tts.inference.qwen3_tts_model import VoiceClonePromptItem

        icl = ref_codes is not None and bool(ref_text)
        return cls(
            item=VoiceClonePromptItem(
                ref_code=torch.from_numpy(np.array(ref_codes, dtype=np.int64)).to(device) if icl else None,
                ref_spk_embedding=torch.from_numpy(np.array(x_vector, dtype=np.float32)).to(device),
                x_vector_only_mode=not icl,
                icl_mode=icl,
                ref_text=ref_text if icl else None,
            )
        )

    def to_arrays(self) -> tuple[np.ndarray, np.ndarray | None, str | None]:
        """(x-vector float32, reference codes int64 or None, reference text or None), on the CPU, for storing."""
        x_vector = self.x_vector.detach().to("cpu", torch.float32).numpy().reshape(-1)
        codes = self.ref_codes.detach().to("cpu", torch.int64).numpy() if self.icl and self.ref_codes is not None else None
        return x_vector, codes, self.ref_text if self.icl else None


class _Captured(Exception):
    """Raised by the stand-in talker to stop the official call once its inputs are known."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("talker inputs captured")
        self.kwargs = kwargs


class _Delegate:
    """Forwards every attribute it does not define to `target`."""

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _CapturingTalker(_Delegate):
    def generate(self, **kwargs: Any) -> Any:
        raise _Captured(kwargs)


class _CapturingModel(_Delegate):
    """The loaded Qwen3TTSForConditionalGeneration, with its talker's generate replaced (for this call only)."""

    def __init__(self, model: Any) -> None:
        super().__init__(model)
        self.talker = _CapturingTalker(model.talker)

    def generate(self, **kwargs: Any) -> Any:
        # The official prompt builder, run with `self` = this stand-in.
        return type(self._target).generate(self, **kwargs)


class _CapturingWrapper(_Delegate):
    """The official Qwen3TTSModel wrapper over a capturing model."""

    def __init__(self, tts: Any) -> None:
        super().__init__(tts)
        self.model = _CapturingModel(tts.model)


def _capture(tts: Any, method: str, **kwargs: Any) -> TalkerPrompt:
    """Run the official `method` up to the talker call and return what it would pass."""
    stand_in = _CapturingWrapper(tts)
    try:
        with _prompt_lock:
            getattr(type(tts), method)(stand_in, **kwargs)
    except _Captured as captured:
        found = captured.kwargs
    except (ValueError, NotImplementedError, KeyError) as error:
        raise PromptError(str(error)) from error
    else:  # pragma: no cover - only if qwen_tts changed shape
        raise RuntimeError(f"qwen_tts {method} finished without calling the talker")
    return TalkerPrompt(
        inputs_embeds=found["inputs_embeds"],
        attention_mask=found["attention_mask"],
        trailing_text_hidden=found["trailing_text_hidden"],
        tts_pad_embed=found["tts_pad_embed"],
        eos_token_id=int(found["eos_token_id"]),
        suppress_tokens=tuple(int(token) for token in found["suppress_tokens"]),
        min_new_tokens=int(found["min_new_tokens"]),
    )


def _language(language: str | None) -> str:
    return "auto" if not language else language


def custom_voice_prompt(
    tts: Any, text: str, speaker: str, language: str | None = "auto", instruct: str | None = None
) -> TalkerPrompt:
    """As `generate_custom_voice` builds it (0.6B checkpoints drop `instruct` there, and so here)."""
    return _capture(
        tts, "generate_custom_voice", text=text, speaker=speaker, language=_language(language), instruct=instruct
    )


def voice_design_prompt(tts: Any, text: str, instruct: str, language: str | None = "auto") -> TalkerPrompt:
    """As `generate_voice_design` builds it; `instruct` is the voice description."""
    if not (instruct and instruct.strip()):
        raise PromptError("voice_design needs an instruct: the description of the voice")
    return _capture(tts, "generate_voice_design", text=text, instruct=instruct, language=_language(language))


def voice_clone_prompt(tts: Any, text: str, clone: ClonePrompt, language: str | None = "auto") -> TalkerPrompt:
    """As `generate_voice_clone` builds it from a prepared `ClonePrompt` (x-vector only, or ICL)."""
    return _capture(
        tts, "generate_voice_clone", text=text, language=_language(language), voice_clone_prompt=[clone.item]
    )
