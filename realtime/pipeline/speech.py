"""The one synthesis pipeline both doors use: a voice request plus text segments in, one stream out.

`SpeechPipeline` is one stream (a socket context, an HTTP request): it opens the
engine's voice, speaks segment after segment (`speak`: the lead-in cut on the first,
the backend's stream in the engine threads, resample and tempo), and hands the door
events in order: `SegmentStarted` (the text as spoken), `PendingAudio` (shaped audio,
not yet encoded), `StreamNotice` (an engine notice, a segment skipped). The door
decides when audio is delivered (`deliver`: encoded, numbered, timestamped): the
socket when its writer sends the chunk (so audio a cancel drops never reaches the
encoder), HTTP at once (`encoded`). The segment-failure rule, word timestamps (handed
to the door's sink after each segment's audio, never after a stop) and the stream's
figures (`meter`, reported once by the door when the stream ends) live here too.

The doors keep only their edges. Socket (realtime/session/context.py): the text
queue with flush and end, the cancel fence, the outbox and its backpressure, messages.
HTTP (realtime/http/): the status line after the first audio, SSE framing, a
disconnect that stops the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

import numpy as np

from realtime.audio.workers import off_loop
from realtime.backend.backend import SegmentFailures, SegmentSkipped, TTSBackend
from realtime.engines.base import CancelFlag, EngineChunk, GenerationError, Voice, VoiceRequest
from realtime.pipeline.meter import StreamMeter
from realtime.pipeline.output import AudioOutput, EncodedAudio, PendingAudio
from realtime.pipeline.words import SegmentWordsEvent, WordsSink, WordStamps
from realtime.segmenter import Segment, Segmenter, SegmenterPolicy

logger = logging.getLogger(__name__)

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class OutputPlan:
    """How the stream is delivered: format, rate, tempo, segment length and word timestamps."""

    format: str
    sample_rate: int
    speed: float
    max_segment_chars: int
    timestamps: str = "none"  # "word": each segment's words go to the sink after its audio


@dataclass(frozen=True, slots=True)
class SegmentStarted:
    """A segment is about to be spoken: `text` is exactly what the engine is given."""

    segment: int
    text: str
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class StreamNotice:
    """Something the client should know that is not an error (a frame bound hit, a segment skipped)."""

    segment: int
    message: str


StreamEvent = SegmentStarted | PendingAudio | StreamNotice


def _never() -> bool:
    return False


class SpeechPipeline:
    """One stream of one voice request: segments in, events out in order, audio delivered when the door says."""

    def __init__(
        self,
        backend: TTSBackend,
        voice_request: VoiceRequest,
        plan: OutputPlan,
        *,
        on_words: WordsSink | None = None,
        label: str = "speech request",
    ) -> None:
        self._backend = backend
        self.voice_request = voice_request
        self.plan = plan
        self._label = label  # who the log lines are about
        self._engine_rate = backend.model_info(voice_request.model).sample_rate
        self.output = AudioOutput(plan.format, self._engine_rate, plan.sample_rate, plan.speed)
        self.meter = StreamMeter()  # the stream's figures; the door reports them once when the stream ends
        self._on_words = on_words or _discard_words
        self._words: WordStamps | None = None
        if plan.timestamps == "word":
            self._words = WordStamps(
                backend.word_timer, voice_request.spec.language, self._engine_rate, plan.sample_rate, self._hand_on_words
            )
        self._voice: Voice | None = None
        self._cancel = CancelFlag()
        self._failures = SegmentFailures()
        self._last_queued = False  # the chunk that closes the stream was handed to the door
        self.segments = 0  # segments announced so far
        self.generating = False

    async def _hand_on_words(self, event: SegmentWordsEvent) -> None:
        await self._on_words(event)

    # -- the engine's voice ------------------------------------------------------------------
    async def open(self) -> None:
        """Prepare the engine's voice (off the loop); raises GenerationError when the engine cannot."""
        opening = asyncio.ensure_future(self._backend.open_voice(self.voice_request))
        try:
            self._voice = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_when_opened)
            raise

    def close(self) -> None:
        """Release the engine's voice (the door calls it once the stream is over, however it ended)."""
        voice, self._voice = self._voice, None
        if voice is not None:
            voice.close()

    def text_ready(self) -> None:
        """The stream has text to speak: the clock of time to first audio starts (later calls do nothing)."""
        self.meter.ready()

    # -- speaking ------------------------------------------------------------------------------
    async def speak(
        self, segment: Segment, *, ends_stream: Callable[[], bool] = _never, last_of_text: bool = False
    ) -> AsyncGenerator[StreamEvent, None]:
        """One segment's events. `ends_stream`, asked at the segment's end, says whether its last chunk closes the stream.

        A segment the engine fails on is closed where it stopped and skipped with a notice,
        unless the failure rule (backend.speak_segment) says the engine, not the text, is
        failing: GenerationError is raised; `last_of_text` also fails a text whose segments
        all failed. The caller must `aclose()` this generator when it stops early: that stops
        the engine.
        """
        assert self._voice is not None, "open() first"
        self.generating = True
        self._cancel = CancelFlag()  # closing a segment's stream sets its flag: each segment gets its own
        opens = self.voice_request if self.segments == 0 else None  # the stream's first segment: its leading silence is cut
        spoken_chunks = self._backend.speak_segment(
            self._voice, segment.text, self._failures, self._cancel, first_segment_of=opens, last_of_text=last_of_text
        )
        chunks: AsyncIterator[EngineChunk | SegmentSkipped] = spoken_chunks
        try:
            chunks = await self._after_previous_words(spoken_chunks)
            index = self.segments
            self.segments += 1
            spoken = self._backend.speakable(segment.text)  # what the engine is given
            if self._words is not None:
                self._words.begin(index, spoken, segment.char_start, segment.char_end)
            yield SegmentStarted(index, spoken, segment.char_start, segment.char_end)
            async with aclosing(self._segment_audio(chunks, index, ends_stream)) as audio:
                async for event in audio:
                    yield event
        finally:
            self.generating = False
            if isinstance(chunks, _Prefetched):
                await chunks.aclose()
            await spoken_chunks.aclose()

    async def _shape(self, samples: np.ndarray, segment_end: bool) -> np.ndarray:
        if self.output.shaping_blocking:
            return await off_loop(self.output.shape, samples, segment_end)
        return self.output.shape(samples, segment_end)

    async def _segment_audio(
        self, chunks: AsyncIterator[EngineChunk | SegmentSkipped], index: int, ends_stream: Callable[[], bool]
    ) -> AsyncGenerator[StreamEvent, None]:
        asked = time.perf_counter()
        async for chunk in chunks:
            self.meter.engine_step(time.perf_counter() - asked)
            if isinstance(chunk, SegmentSkipped):
                async with aclosing(self._skip_segment(index, chunk.error, ends_stream)) as skipped:
                    async for event in skipped:
                        yield event
                return
            samples = await self._shape(chunk.samples, chunk.final)
            if len(samples) or chunk.final:
                is_last = chunk.final and ends_stream()
                self._last_queued = self._last_queued or is_last
                yield PendingAudio(index, samples, segment_end=chunk.final, is_last=is_last)
            if self._words is not None:
                self._words.add(chunk.samples, len(samples))
                if chunk.final:
                    self._words.finish()
            if chunk.notice:
                yield StreamNotice(index, chunk.notice)
            asked = time.perf_counter()

    async def _skip_segment(
        self, index: int, exc: GenerationError, ends_stream: Callable[[], bool]
    ) -> AsyncGenerator[StreamEvent, None]:
        """A segment the engine could not speak: close its audio where it stopped, tell the client, go on."""
        logger.warning("%s: segment %d could not be spoken and was skipped: %s", self._label, index, exc)
        samples = await self._shape(_EMPTY, True)
        is_last = ends_stream()
        self._last_queued = self._last_queued or is_last
        yield PendingAudio(index, samples, segment_end=True, is_last=is_last)
        if self._words is not None:  # the segment's words are timed on the audio it did get
            self._words.add(_EMPTY, len(samples))
            self._words.finish()
        yield StreamNotice(index, f"segment {index} could not be spoken and was skipped: {exc}")

    async def _after_previous_words(
        self, chunks: AsyncGenerator[EngineChunk | SegmentSkipped, None]
    ) -> AsyncIterator[EngineChunk | SegmentSkipped]:
        """The segment's chunks, once the previous segment's words are handed on (they must come first).

        The engine starts on this segment meanwhile, so timing words never idles the engine.
        """
        if self._words is None or not self._words.pending:
            return chunks
        prefetched = _Prefetched(chunks)
        try:
            await self._words.settle()
        except BaseException:
            await prefetched.aclose()
            raise
        return prefetched

    async def settle_words(self) -> None:
        """The last segment's words are handed on: call before anything that must follow them (flushed, the end)."""
        if self._words is not None:
            await self._words.settle()

    def interrupt(self) -> None:
        """Stop the engine within one step (a cancel, a client gone)."""
        self._cancel.set()

    async def stop_words(self) -> None:
        """Drop words still being timed: none are handed on after this."""
        if self._words is not None:
            await self._words.stop()

    # -- delivery ------------------------------------------------------------------------------
    def closing_chunk(self) -> PendingAudio | None:
        """The empty chunk that closes the stream (the encoder's tail), unless a chunk already closed it.

        Exactly one chunk closes a stream. Its segment is the last one announced (-1 when none
        was), and its `segment_end` stays false: that segment's own end was already marked (or,
        after a cancel, never came).
        """
        if self._last_queued or self.output.closed:
            return None
        self._last_queued = True
        return PendingAudio(self.segments - 1, _EMPTY, segment_end=False, is_last=True)

    def forget_queued(self) -> None:
        """The door dropped audio it had not delivered (a cancel): the chunk that closed the stream may be gone."""
        self._last_queued = False

    async def deliver(self, pending: PendingAudio) -> EncodedAudio | None:
        """Encode, number and timestamp `pending` now (None once the stream is closed); the meter follows."""
        encoded = await self.output.deliver(pending)
        if encoded is not None:
            if encoded.samples:
                self.meter.first_audio()
            self.meter.audio_s = self.output.samples / self.output.sample_rate
        return encoded

    # -- a whole text at once (HTTP's body) ---------------------------------------------------
    async def encoded(self, text: str) -> AsyncGenerator[bytes | SegmentWordsEvent, None]:
        """A whole text, auto-segmented, as the bytes of one file of the plan's format, delivered as made.

        With word timestamps, each segment's words follow its last bytes. Closing the generator
        (the client left) stops the engine within one step. GenerationError means the engine failed.
        """
        words: deque[SegmentWordsEvent] = deque()

        async def collect(event: SegmentWordsEvent) -> None:
            words.append(event)

        self._on_words = collect  # this generator hands the words on, in order with the bytes
        segmenter = Segmenter(SegmenterPolicy(mode="auto", max_chars=self.plan.max_segment_chars))
        segments = segmenter.feed(text) + segmenter.flush()
        self.text_ready()  # the whole text is there from the start
        await self.open()
        try:
            for number, segment in enumerate(segments):
                events = self.speak(segment, last_of_text=number == len(segments) - 1)
                try:
                    async for event in events:
                        while words:
                            yield words.popleft()
                        if isinstance(event, PendingAudio):
                            delivered = await self.deliver(event)
                            if delivered is not None and delivered.data:
                                yield delivered.data
                finally:
                    await events.aclose()
            await self.settle_words()
            while words:
                yield words.popleft()
        finally:
            self.interrupt()
            await self.stop_words()
            self.close()
        closing = self.closing_chunk()
        delivered = await self.deliver(closing) if closing is not None else None
        if delivered is not None and delivered.data:
            yield delivered.data


async def _discard_words(event: SegmentWordsEvent) -> None:
    """No sink was given: the words are not wanted."""


class _Prefetched:
    """A segment's chunks whose first is already being made while the previous segment's words settle.

    `aclose` stops that first step and waits until it has ended, however the wait for it was
    left (a cancel of the awaiting task cancels the step too, but does not wait for it), so
    the chunks' generator is never running when it is closed in turn.
    """

    def __init__(self, chunks: AsyncGenerator[EngineChunk | SegmentSkipped, None]) -> None:
        self._chunks = chunks
        self._first: asyncio.Future[EngineChunk | SegmentSkipped | None] = asyncio.ensure_future(anext(chunks, None))
        self._first_taken = False

    def __aiter__(self) -> _Prefetched:
        return self

    async def __anext__(self) -> EngineChunk | SegmentSkipped:
        if not self._first_taken:
            self._first_taken = True
            item = await self._first
            if item is None:
                raise StopAsyncIteration
            return item
        return await anext(self._chunks)

    async def aclose(self) -> None:
        self._first.cancel()  # nothing if it is done
        await asyncio.gather(self._first, return_exceptions=True)


def _close_when_opened(future: asyncio.Future[Voice]) -> None:
    """A voice that finished opening after its stream was cancelled is closed, not leaked."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()
