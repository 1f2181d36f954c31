"""The engine contract: what a speech engine offers and how it streams one utterance.

Engines do the heavy work and are called from worker threads, never from the event
loop. Each streams float32 audio for one segment and checks its cancel flag between
steps, so a cancel or disconnect stops the work within one step.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from realtime.audio.reference import ReferenceAudio
from realtime.engines.problems import VoiceProblem
from realtime.engines.voice_spec import VoiceSpec


class GenerationError(RuntimeError):
    """The engine failed on a segment (reported to the client as generation_failed)."""


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What one model can serve; listed to clients and used to validate their requests."""

    name: str
    engine: str
    modes: tuple[str, ...]
    speakers: tuple[str, ...]
    languages: tuple[str, ...]
    accepts_instruct: bool
    generation_settings: tuple[str, ...]
    sample_rate: int
    capacity: int
    family: str = ""  # models of one family share a speaker-embedding space (saved voices move between them)

    def describe(self) -> str:
        speakers = f"; speakers: {', '.join(self.speakers)}" if self.speakers else ""
        return f"{self.name} ({', '.join(self.modes)}{speakers})"


@dataclass(frozen=True, slots=True)
class EngineChunk:
    """A piece of one segment's audio; `final` marks the segment's last piece."""

    samples: np.ndarray
    final: bool
    notice: str | None = None  # something the client should know about this segment (e.g. it was cut short)


class CancelFlag:
    """Set from the event loop, read by the worker thread between engine steps."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()


class VoiceFeatureError(ValueError):
    """The model cannot do what a saved-voice operation asks (it clones no voices, the audio is unusable...)."""


@dataclass(frozen=True, slots=True)
class VoicePrint:
    """A cloned voice in engine terms, computed once and stored: what a context needs to speak it.

    `x_vector` is the speaker embedding (float32, 1-D); an in-context voice also has
    `ref_codes` (int64, frames x codebooks), the codec frames of its reference audio, and
    `ref_text`, their transcript. Using one skips decoding and encoding the reference.
    """

    x_vector: np.ndarray
    ref_codes: np.ndarray | None = None
    ref_text: str | None = None

    @property
    def in_context(self) -> bool:
        return self.ref_codes is not None and bool(self.ref_text)


@dataclass(frozen=True, slots=True)
class VoiceRequest:
    """A validated voice, bound to a model, with its seed and decoded reference audio."""

    spec: VoiceSpec
    model: str
    seed: int
    reference: ReferenceAudio | None = None
    notices: tuple[str, ...] = ()  # what the client should know, e.g. an instruct this model ignores
    saved: VoicePrint | None = None  # a saved voice: used instead of decoding reference audio
    voice_id: str | None = None  # the saved voice's id, when the request names one


class Voice(ABC):
    """One context's voice: prepared once, then used segment after segment in order."""

    @abstractmethod
    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        """Stream one segment. Must return promptly once `cancel` is set."""

    def close(self) -> None:
        """Release what the voice holds. Must be cheap: it runs on the event loop, also after a cancel."""


class Engine(ABC):
    """A loaded model that makes voices."""

    info: ModelInfo
    reports_own_loads: bool = False  # True when its model loads are reported where they happen (a model manager), not at start-up
    # Streams that may sit in a worker thread waiting on the engine's own step loop (a batch
    # scheduler) rather than computing: the backend adds that many threads, so they never starve the pool.
    waiting_streams: int = 0

    @abstractmethod
    def load(self) -> None:
        """Load weights and warm up (blocking; run off the event loop)."""

    @abstractmethod
    def check(self, spec: VoiceSpec) -> list[VoiceProblem]:
        """Cheap validation of what only this model can judge (speaker, instruct, language...)."""

    def notices(self, spec: VoiceSpec) -> tuple[str, ...]:
        """Things about an accepted voice the client should be told (e.g. a setting this model ignores)."""
        return ()

    @abstractmethod
    def open_voice(self, voice_request: VoiceRequest) -> Voice:
        """Prepare a voice for one context (blocking; run off the event loop)."""

    def extract_voice(self, samples: np.ndarray, ref_text: str | None, x_vector_only: bool) -> VoicePrint:
        """Turn 24 kHz mono reference audio into a storable voice (blocking). Only cloning models can."""
        raise VoiceFeatureError(f"model {self.info.name} cannot clone a voice from reference audio")

    def shutdown(self) -> None:
        """Free memory."""
