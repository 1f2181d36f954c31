"""Test-only engines: the embedded hibari engine with failures injected on cue."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from realtime.engines.base import CancelFlag, EngineChunk, GenerationError, Voice, VoiceRequest
from realtime.engines.hibari_engine import HIBARI_INFO, HibariEngine

# A segment whose text contains FAIL_MARK fails before any audio, with the engine's own error type.
FAIL_MARK = "FAIL"
# A segment whose text contains BREAK_MARK yields one piece of audio, then raises a plain
# exception (an engine bug, not a GenerationError).
BREAK_MARK = "BREAK"

FAULTY_MODEL_NAME = "hibari-faulty"


class FaultyVoice(Voice):
    def __init__(self, inner: Voice) -> None:
        self._inner = inner

    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        if FAIL_MARK in text:
            raise GenerationError(f"injected failure on {text!r}")
        if BREAK_MARK in text:
            for chunk in self._inner.synthesize(text.replace(BREAK_MARK, "stop"), cancel):
                yield EngineChunk(chunk.samples, final=False)
                raise ValueError(f"injected engine bug on {text!r}")
        yield from self._inner.synthesize(text, cancel)

    def close(self) -> None:
        self._inner.close()


class FaultyEngine(HibariEngine):
    """hibari under another name, whose voices fail on segments that carry FAIL_MARK or BREAK_MARK."""

    info = replace(HIBARI_INFO, name=FAULTY_MODEL_NAME)

    def open_voice(self, request: VoiceRequest) -> Voice:
        return FaultyVoice(super().open_voice(request))


PACED_MODEL_NAME = "hibari-paced"


class PacedVoice(Voice):
    """hibari, but each segment waits `pace_s` before its first audio (a slower model's start).

    The stream's first segment waits `first_pace_s` instead, when given: a test can get its
    first audio at once and still find the next one far away.
    """

    def __init__(self, inner: Voice, pace_s: float, first_pace_s: float | None = None) -> None:
        self._inner = inner
        self._pace_s = pace_s
        self._next_pace_s = pace_s if first_pace_s is None else first_pace_s

    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        pace_s, self._next_pace_s = self._next_pace_s, self._pace_s
        if _sleep(pace_s, cancel):
            return
        yield from self._inner.synthesize(text, cancel)

    def close(self) -> None:
        self._inner.close()


def _sleep(seconds: float, cancel: CancelFlag) -> bool:
    """Sleep `seconds` in small steps; True when cancelled meanwhile."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if cancel.is_set:
            return True
        time.sleep(min(left, 0.005))
    return cancel.is_set


class PacedEngine(HibariEngine):
    """hibari under another name, paced so a text of n segments takes at least n * pace_s on any machine."""

    info = replace(HIBARI_INFO, name=PACED_MODEL_NAME)

    def __init__(self, pace_s: float, threads: int = 1, first_pace_s: float | None = None) -> None:
        super().__init__(threads=threads)
        self._pace_s = pace_s
        self._first_pace_s = first_pace_s

    def open_voice(self, request: VoiceRequest) -> Voice:
        return PacedVoice(super().open_voice(request), self._pace_s, self._first_pace_s)


CLONING_MODEL_NAME = "hibari-cloning"


class CloningEngine(HibariEngine):
    """hibari under another name that also takes mode voice_clone (speaking as heart), recording each reference.

    Only the embedded voice is real here: it lets tests reach what happens to reference
    audio (decoded, length-checked, handed to the engine) without a cloning model.
    """

    info = replace(HIBARI_INFO, name=CLONING_MODEL_NAME, modes=("custom_voice", "voice_clone"))

    def __init__(self, threads: int = 1) -> None:
        super().__init__(threads=threads)
        self.reference_seconds: list[float] = []

    def open_voice(self, request: VoiceRequest) -> Voice:
        if request.spec.mode == "voice_clone":
            assert request.reference is not None, "voice_clone needs its decoded reference"
            self.reference_seconds.append(request.reference.duration_s)
        return super().open_voice(request)
