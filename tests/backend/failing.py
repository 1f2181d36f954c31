"""A test engine whose every segment fails."""

from __future__ import annotations

from collections.abc import Iterator

from realtime.engines.base import CancelFlag, EngineChunk, GenerationError, Voice, VoiceRequest
from realtime.engines.hibari_engine import HibariEngine


class _FailingVoice(Voice):
    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        raise GenerationError("the engine broke")
        yield  # pragma: no cover


class FailingEngine(HibariEngine):
    def load(self) -> None:
        pass

    def open_voice(self, request: VoiceRequest) -> Voice:
        return _FailingVoice()
