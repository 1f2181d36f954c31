"""One whole text as one encoded stream: what the HTTP speech route sends as its body.

The backend's utterance (auto segmenter, the lead-in cut, engine threads) feeds an
`AudioOutput` (the same resampler and encoders as the socket's contexts); shaping and
encoding run in the shared encode pool when they are worth it (codecs, tempo), inline
otherwise (pcm and wav at normal speed, as on the socket), one call per engine chunk,
in order. Closing the generator (the client left) stops the engine within one step.
The route keeps its own edges: the status line after the first audio, SSE framing.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from realtime.audio.workers import off_loop
from realtime.backend.backend import TTSBackend
from realtime.engines.base import VoiceRequest
from realtime.pipeline.meter import StreamMeter
from realtime.pipeline.output import AudioOutput
from realtime.words.aligner import SegmentWords
from realtime.words.timing import SegmentAudio


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """How the stream is delivered: format, rate, tempo, segment length and word timestamps."""

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


class SpeechPipeline:
    """A prepared voice plus a text, as encoded bytes (and word events) in order; `meter` holds its figures."""

    def __init__(self, backend: TTSBackend, request: VoiceRequest, text: str, plan: OutputPlan) -> None:
        self._backend = backend
        self._request = request
        self._text = text
        self._plan = plan
        self._engine_rate = backend.model_info(request.model).sample_rate
        self.output = AudioOutput(plan.format, self._engine_rate, plan.sample_rate, plan.speed)
        self.meter = StreamMeter()
        self.meter.ready()  # the whole text is there from the start

    @property
    def audio_s(self) -> float:
        return self.output.samples / self.output.sample_rate

    def _convert(self, samples: np.ndarray, segment_end: bool, is_last: bool) -> bytes:
        data, _ = self.output.encode(self.output.shape(samples, segment_end), is_last)
        return data

    async def _run(self, samples: np.ndarray, segment_end: bool, is_last: bool) -> bytes:
        if self.output.blocking:
            return await off_loop(self._convert, samples, segment_end, is_last)
        return self._convert(samples, segment_end, is_last)

    async def chunks(self) -> AsyncIterator[bytes | SegmentWordsEvent]:
        """The utterance's bytes as they are encoded: one valid stream of the plan's format when concatenated.

        With word timestamps, each segment's words follow its last bytes (timed off the loop,
        after that audio was handed on, so they never hold back audio already made).
        """
        backend, plan, output = self._backend, self._plan, self.output
        words = plan.timestamps == "word"
        pieces = backend.utterance(self._request, self._text, plan.max_segment_chars)
        if words:
            backend.word_timer.prepare()
        segment_audio: list[np.ndarray] = []
        segment_start = 0
        try:
            asked = time.perf_counter()
            async for piece in pieces:
                self.meter.engine_step(time.perf_counter() - asked)
                before = output.samples
                data = await self._run(piece.chunk.samples, piece.chunk.final, False)
                self.meter.audio_s = self.audio_s
                if data:
                    if output.samples > before:
                        self.meter.first_audio()
                    yield data
                if words:
                    segment_audio.append(piece.chunk.samples)
                    if piece.chunk.final:
                        audio = np.concatenate(segment_audio) if segment_audio else np.zeros(0, dtype=np.float32)
                        span = SegmentAudio(segment_start, output.samples - segment_start, plan.sample_rate)
                        timed = await backend.word_timer.time_words_off_loop(
                            piece.text, audio, self._engine_rate, span, self._request.spec.language
                        )
                        yield SegmentWordsEvent(piece.segment, piece.text, piece.char_start, timed)
                        segment_audio, segment_start = [], output.samples
                asked = time.perf_counter()
        finally:
            await pieces.aclose()
        data = await self._run(np.zeros(0, dtype=np.float32), False, True)
        self.meter.audio_s = self.audio_s
        if data:
            yield data
