"""What a client asks a voice to be, in engine terms: mode, model, speaker, sampling settings.

The socket's `session.start`/`context.start` and the HTTP speech body are both parsed
into a `VoiceSpec` (realtime/protocol/messages.py, realtime/http/speech.py); engines and
the backend read it without knowing which door it came through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

MODES: Final = ("custom_voice", "voice_clone", "voice_design")

# name -> (kind, low, high): inclusive ranges; "float" accepts ints too, never bools;
# "bool" takes true/false only (its range is 0..1). The `subtalker_*` settings are the
# code predictor's own sampling (codebooks 1..15); the others act on the talker (codebook 0).
GENERATION_RANGES: Final[dict[str, tuple[str, float, float]]] = {
    "temperature": ("float", 0.0, 2.0),
    "top_p": ("float", 0.0, 1.0),
    "top_k": ("int", 0, 1000),
    "repetition_penalty": ("float", 0.5, 2.0),
    "max_new_tokens": ("int", 1, 8192),
    "subtalker_do_sample": ("bool", 0, 1),
    "subtalker_temperature": ("float", 0.0, 2.0),
    "subtalker_top_k": ("int", 0, 1000),
    "subtalker_top_p": ("float", 0.0, 1.0),
}


@dataclass(frozen=True, slots=True)
class GenerationParams:
    """Sampling settings; None means the engine's default."""

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    repetition_penalty: float | None = None
    max_new_tokens: int | None = None
    subtalker_do_sample: bool | None = None
    subtalker_temperature: float | None = None
    subtalker_top_k: int | None = None
    subtalker_top_p: float | None = None

    def given(self) -> dict[str, float | int | bool]:
        """Only the settings the client chose."""
        return {name: getattr(self, name) for name in GENERATION_RANGES if getattr(self, name) is not None}


@dataclass(frozen=True, slots=True)
class VoiceSpec:
    """Everything that decides how a context sounds, as asked (not yet bound to a model: see VoiceRequest)."""

    mode: str = "custom_voice"
    model: str | None = None
    speaker: str | None = None
    instruct: str | None = None
    ref_audio: bytes | None = field(default=None, repr=False)
    ref_text: str | None = None
    x_vector_only: bool = False
    language: str = "auto"
    seed: int | None = None
    generation: GenerationParams = field(default_factory=GenerationParams)
    voice: str | None = None  # a saved voice's id: fixes mode (voice_clone) and model
