"""Test-only backends: the real backend with bugs (plain exceptions) injected on cue."""

from __future__ import annotations

from realtime.backend.backend import TTSBackend
from realtime.backend.threaded import ThreadedStream
from realtime.engines.base import CancelFlag, EngineChunk, Voice, VoiceRequest
from realtime.engines.problems import VoiceProblem
from realtime.protocol.messages import VoiceSpec

# A voice with this speaker makes bind_voice raise (a bug while judging a voice).
CRASH_SPEAKER = "crash"
# A segment whose text contains this makes stream() raise on the event loop (a bug in a context's task).
CRASH_TEXT = "CRASH"


class InjectedBug(RuntimeError):
    """An exception the server has no reason to expect."""


class CrashingBackend(TTSBackend):
    """The real backend, except on cue, where it raises a plain exception like a bug would."""

    async def bind_voice(self, spec: VoiceSpec, seed: int) -> tuple[VoiceRequest | None, list[VoiceProblem]]:
        if spec.speaker == CRASH_SPEAKER:
            raise InjectedBug("injected bug in bind_voice")
        return await super().bind_voice(spec, seed)

    def stream(
        self, voice: Voice, text: str, cancel: CancelFlag | None = None, *, first_segment_of: VoiceRequest | None = None
    ) -> ThreadedStream[EngineChunk]:
        if CRASH_TEXT in text:
            raise InjectedBug("injected bug in stream")
        return super().stream(voice, text, cancel, first_segment_of=first_segment_of)
