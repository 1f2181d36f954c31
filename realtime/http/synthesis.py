"""One HTTP utterance as encoded bytes, made as the socket makes a context's stream.

Same parts as the socket: the backend's utterance (auto segmenter, engine threads), the
streaming resampler and the format's streaming encoder. Resampling, the optional
tempo change and encoding run in the shared encode pool (pcm and wav at normal speed
inline, as on the socket), one call per engine chunk, in order. Closing the generator
(the client left) stops the engine within one step.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import numpy as np

from realtime.audio.encoders import StreamEncoder, create_encoder
from realtime.audio.resample import StreamResampler
from realtime.audio.workers import off_loop
from realtime.backend.backend import TTSBackend
from realtime.engines.base import VoiceRequest
from realtime.http.tempo import TempoChanger
from realtime.words.aligner import SegmentWords
from realtime.words.timing import SegmentAudio


@dataclass(frozen=True, slots=True)
class OutputPlan:
    format: str
    sample_rate: int
    speed: float
    max_segment_chars: int
    timestamps: str = "none"


@dataclass(frozen=True, slots=True)
class SegmentWordsEvent:
    """A segment's words, yielded after its last audio when the plan asks for word timestamps."""

    segment: int
    text: str
    char_start: int
    timed: SegmentWords


@dataclass(slots=True)
class StreamStats:
    """Filled while the stream runs: for metrics and the SSE `done` event."""

    started: float
    first_audio_s: float | None = None
    engine_s: float = 0.0
    samples: int = 0
    sample_rate: int = 24000

    @property
    def audio_s(self) -> float:
        return self.samples / self.sample_rate

    @property
    def rtf(self) -> float | None:
        return self.engine_s / self.audio_s if self.samples else None


class _Converter:
    """Engine-rate float32 in, encoded bytes out: resample, change tempo, encode (run in a worker thread)."""

    def __init__(self, engine_rate: int, plan: OutputPlan) -> None:
        self.resampler = StreamResampler(engine_rate, plan.sample_rate)
        self.tempo = TempoChanger(plan.speed, plan.sample_rate) if plan.speed != 1.0 else None
        self.encoder: StreamEncoder = create_encoder(plan.format, plan.sample_rate)
        # pcm and wav at normal speed are cheaper inline than a hop to a thread, as on the socket.
        self.blocking = self.encoder.blocking or self.tempo is not None

    def convert(self, samples: np.ndarray, segment_end: bool) -> tuple[bytes, int]:
        out = self.resampler.process(samples) if len(samples) else samples
        if segment_end:
            tail = self.resampler.finish()
            out = np.concatenate([out, tail]) if len(tail) else out
        if self.tempo is not None:
            out = self.tempo.process(out)
        return (self.encoder.feed(out) if len(out) else b""), len(out)

    def close(self) -> tuple[bytes, int]:
        data, count = b"", 0
        if self.tempo is not None:
            tail = self.tempo.finish()
            if len(tail):
                data, count = self.encoder.feed(tail), len(tail)
        return data + self.encoder.close(), count


async def _run(converter: _Converter, work: Callable[..., tuple[bytes, int]], *args: object) -> tuple[bytes, int]:
    return await off_loop(work, *args) if converter.blocking else work(*args)


async def encoded_speech(
    backend: TTSBackend, request: VoiceRequest, text: str, plan: OutputPlan, stats: StreamStats
) -> AsyncIterator[bytes | SegmentWordsEvent]:
    """The utterance's bytes as they are encoded: one valid stream of `plan.format` when concatenated.

    With word timestamps, each segment's words follow its last bytes (timed off the loop,
    after that audio was handed on, so they never hold back audio already made).
    """
    engine_rate = backend.model_info(request.model).sample_rate
    converter = _Converter(engine_rate, plan)
    stats.sample_rate = plan.sample_rate
    pieces = backend.utterance(request, text, plan.max_segment_chars)
    if plan.timestamps == "word":
        backend.word_timer.prepare()
    segment_audio: list[np.ndarray] = []
    segment_start = 0
    try:
        asked = time.perf_counter()
        async for piece in pieces:
            stats.engine_s += time.perf_counter() - asked
            data, count = await _run(converter, converter.convert, piece.chunk.samples, piece.chunk.final)
            stats.samples += count
            if data:
                if stats.first_audio_s is None and count:
                    stats.first_audio_s = time.perf_counter() - stats.started
                yield data
            if plan.timestamps == "word":
                segment_audio.append(piece.chunk.samples)
                if piece.chunk.final:
                    audio = np.concatenate(segment_audio) if segment_audio else np.zeros(0, dtype=np.float32)
                    span = SegmentAudio(segment_start, stats.samples - segment_start, plan.sample_rate)
                    timed = await backend.word_timer.time_words_off_loop(
                        piece.text, audio, engine_rate, span, request.spec.language
                    )
                    yield SegmentWordsEvent(piece.segment, piece.text, piece.char_start, timed)
                    segment_audio, segment_start = [], stats.samples
            asked = time.perf_counter()
    finally:
        await pieces.aclose()
    data, count = await _run(converter, converter.close)
    stats.samples += count
    if data:
        yield data
