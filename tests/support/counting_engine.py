"""A test-only engine that counts what it does, so tests can watch generation from the server side.

`CountingEngine` is a cheap, deterministic stand-in for a real model: every word of a
segment becomes `chunks_per_word` pieces of seeded noise, one piece per engine step,
optionally with a sleep per step (`step_s`) so a test can catch generation in the
middle. It counts the pieces it produced, the voices it opened and closed, and the
segment generators that started and ran their `finally`, all readable from the test's
thread while the server runs in its own.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from realtime.backend.backend import TTSBackend
from realtime.config import Limits
from realtime.engines.base import CancelFlag, Engine, EngineChunk, ModelInfo, Voice, VoiceRequest
from realtime.engines.problems import VoiceProblem
from realtime.engines.voice_spec import VoiceSpec

COUNTING_MODEL = "counting"
COUNTING_RATE = 24000


class _Counters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.produced = 0  # pieces yielded by every generator
        self.voices_opened = 0
        self.voices_closed = 0
        self.generators_started = 0
        self.generators_finished = 0  # generators whose `finally` ran (exhausted, closed or cancelled)

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + amount)


class CountingVoice(Voice):
    def __init__(self, engine: CountingEngine, seed: int) -> None:
        self._engine = engine
        self._rng = np.random.default_rng(seed)
        self._closed = False

    def synthesize(self, text: str, cancel: CancelFlag) -> Iterator[EngineChunk]:
        engine = self._engine
        counters = engine.counters
        counters.add("generators_started")
        try:
            pieces = max(1, len(text.split())) * engine.chunks_per_word
            for index in range(pieces):
                if cancel.is_set:
                    return
                if engine.step_s:
                    time.sleep(engine.step_s)
                samples = (self._rng.standard_normal(engine.chunk_samples) * 0.1).astype(np.float32)
                counters.add("produced")
                yield EngineChunk(samples, final=index == pieces - 1)
        finally:
            counters.add("generators_finished")

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._engine.counters.add("voices_closed")


class CountingEngine(Engine):
    info = ModelInfo(
        name=COUNTING_MODEL,
        engine="counting",
        modes=("custom_voice",),
        speakers=("tick",),
        languages=("auto", "english"),
        accepts_instruct=False,
        generation_settings=(),
        sample_rate=COUNTING_RATE,
        capacity=64,
    )

    def __init__(self, *, chunks_per_word: int = 2, chunk_samples: int = 4800, step_s: float = 0.0) -> None:
        self.chunks_per_word = chunks_per_word
        self.chunk_samples = chunk_samples
        self.step_s = step_s
        self.counters = _Counters()

    def load(self) -> None:
        pass

    def check(self, spec: VoiceSpec) -> list[VoiceProblem]:
        return []

    def open_voice(self, request: VoiceRequest) -> Voice:
        self.counters.add("voices_opened")
        return CountingVoice(self, request.seed)


def counting_backend(engine: CountingEngine) -> TTSBackend:
    """A backend serving only `engine` (pass it to `make_server(backend=...)`)."""
    return TTSBackend([engine], engine_threads=2, limits=Limits())


async def wait_until_steady(
    read: Callable[[], int], settle_s: float = 0.3, timeout_s: float = 5.0
) -> tuple[int, float]:
    """Poll `read()` until it stops changing for `settle_s`: the steady value and when it last changed (monotonic)."""
    deadline = time.monotonic() + timeout_s
    value = read()
    changed_at = time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.005)
        now = read()
        if now != value:
            value, changed_at = now, time.monotonic()
        elif time.monotonic() - changed_at >= settle_s:
            return value, changed_at
    raise AssertionError(f"the value kept changing for {timeout_s} s (last {value})")
