"""A context: one continuous audio stream with its own text buffer, segments and encoder.

Text goes through the segmenter into a work queue; one task per context takes the
queue in order, streams each segment from the engine and hands audio to the session's
outbox. Cancel stops that task within one engine step and fences the stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

import numpy as np

from realtime.backend.backend import SegmentFailures, TTSBackend
from realtime.engines.base import CancelFlag, EngineChunk, GenerationError, Voice, VoiceRequest
from realtime.metrics import Metrics
from realtime.pipeline.meter import StreamMeter
from realtime.protocol.errors import ErrorCode, ProtocolError
from realtime.segmenter import Segment, Segmenter, SegmenterPolicy
from realtime.session.audio_stream import AudioStream, PendingAudio
from realtime.session.outbox import Outbox, Outgoing
from realtime.session.words import WordStamps

logger = logging.getLogger(__name__)


class ContextState(Enum):
    OPEN = "open"  # takes text
    ENDING = "ending"  # `end` received: finishing what is queued
    FINISHED = "finished"  # `done` queued (or the session is gone)


class _Marker(Enum):
    FLUSH = "flush"
    END = "end"


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """The session-wide output settings every context of the session shares."""

    format: str
    sample_rate: int
    segmentation: str
    max_segment_chars: int
    max_buffered_chars: int
    timestamps: str = "none"  # "word": a `words` message after each segment's audio


class Context:
    def __init__(
        self,
        name: str,
        request: VoiceRequest,
        settings: StreamSettings,
        backend: TTSBackend,
        outbox: Outbox,
        on_finished: Callable[[Context], None],
        on_crash: Callable[[BaseException], None],
        session_id: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.name = name
        self.request = request
        self.state = ContextState.OPEN
        self._settings = settings
        self._backend = backend
        self._outbox = outbox
        self._on_finished = on_finished
        self._on_crash = on_crash
        self._session_id = session_id
        self._metrics = metrics
        self._segmenter = Segmenter(
            SegmenterPolicy(mode=settings.segmentation, max_chars=settings.max_segment_chars)  # type: ignore[arg-type]
        )
        self._audio = AudioStream(
            name, settings.format, backend.model_info(request.model).sample_rate, settings.sample_rate
        )
        # This stream's audio in the outbox, told apart from an earlier stream of the same name
        # whose last chunks may still wait there: a cancel drops only its own.
        self._stream_key = object()
        self._words = self._word_stamps() if settings.timestamps == "word" else None
        self._work: deque[Segment | _Marker] = deque()
        self._work_ready = asyncio.Event()
        self._queued_chars = 0
        self._generating = False
        self._cancel = CancelFlag()
        self._last_queued = False
        self._segments_started = 0
        self._failures = SegmentFailures()
        self.client_ended = False  # the client sent `end` (rather than the server finishing it first)
        self._meter = StreamMeter()  # the stream's figures: in `done`, and reported to the metrics once
        self._task = asyncio.create_task(self._run(), name=f"ctx:{session_id}:{name}")

    # -- client messages ---------------------------------------------------------------------
    def add_text(self, text: str) -> None:
        """Take one `text` message whole, or refuse it whole."""
        buffered = self._segmenter.pending_chars + self._queued_chars
        limit = self._settings.max_buffered_chars
        if buffered + len(text) > limit:
            raise ProtocolError(
                ErrorCode.TEXT_TOO_LONG,
                f"context {self.name!r} would buffer {buffered + len(text)} characters; the limit is {limit} "
                "(send flush, or wait for audio before sending more)",
                ctx=self.name,
            )
        self._enqueue(self._segmenter.feed(text))

    def flush(self) -> None:
        self._enqueue(self._segmenter.flush())
        self._push(_Marker.FLUSH)

    def end(self) -> None:
        self._enqueue(self._segmenter.flush())
        self._push(_Marker.END)
        self.state = ContextState.ENDING
        self.client_ended = True

    @property
    def busy(self) -> bool:
        """Generating or with work queued: the session's idle clock does not run."""
        return self._generating or any(isinstance(item, Segment) for item in self._work)

    def _word_stamps(self) -> WordStamps:
        async def send_words(message: dict[str, Any]) -> None:
            # Queued as part of this stream (after its segment's last chunk): a cancel drops it with the audio.
            async def render() -> dict[str, Any]:
                return message

            await self._outbox.put(Outgoing(self._stream_key, render=render))

        return WordStamps(
            self.name, self._backend.word_timer, self.request.spec.language,
            self._backend.model_info(self.request.model).sample_rate, self._settings.sample_rate,
            send_words, self._outbox.send,
        )

    async def _settle_words(self) -> None:
        """A segment's `words` go before anything else this context queues after its last chunk."""
        if self._words is not None:
            await self._words.settle()

    # -- queue -----------------------------------------------------------------------------
    def _enqueue(self, segments: list[Segment]) -> None:
        for segment in segments:
            self._meter.ready()
            self._queued_chars += len(segment.text)
            self._push(segment)

    def _push(self, item: Segment | _Marker) -> None:
        self._work.append(item)
        self._work_ready.set()

    async def _next_item(self) -> Segment | _Marker:
        while not self._work:
            self._work_ready.clear()
            await self._work_ready.wait()
        item = self._work.popleft()
        if isinstance(item, Segment):
            self._queued_chars -= len(item.text)
        return item

    def _end_follows(self) -> bool:
        return bool(self._work) and self._work[0] is _Marker.END

    # -- the context's task ------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            await self._work_loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug: the session reports internal_error and closes
            logger.exception("session %s ctx %s crashed", self._session_id, self.name)
            self._on_crash(exc)

    async def _work_loop(self) -> None:
        opening = asyncio.ensure_future(self._backend.open_voice(self.request))
        try:
            voice = await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_when_opened)
            raise
        except GenerationError as exc:
            await self._fail(exc)
            return
        try:
            while True:
                item = await self._next_item()
                if isinstance(item, Segment):
                    await self._synthesize(voice, item)
                elif item is _Marker.FLUSH:
                    await self._settle_words()
                    await self._outbox.send({"type": "flushed", "ctx": self.name})
                else:
                    await self._finish("end")
                    return
        except GenerationError as exc:
            await self._fail(exc)
        finally:
            voice.close()

    async def _synthesize(self, voice: Voice, segment: Segment) -> None:
        self._generating = True
        self._cancel = CancelFlag()  # closing a segment's stream sets its flag: each segment gets its own
        opens = self.request if self._segments_started == 0 else None  # the context's first segment: its leading silence is cut
        stream = self._backend.stream(voice, segment.text, self._cancel, first_segment_of=opens)
        chunks: AsyncIterator[EngineChunk] = stream
        try:
            chunks = await self._after_previous_words(stream)
            index = self._segments_started
            self._segments_started += 1
            spoken = self._backend.speakable(segment.text)  # what the engine is given: `segment.text` on the wire
            if self._words is not None:
                self._words.begin(index, spoken)
            await self._outbox.send(
                {
                    "type": "segment",
                    "ctx": self.name,
                    "segment": index,
                    "text": spoken,
                    "char_start": segment.char_start,
                    "char_end": segment.char_end,
                }
            )
            try:
                await self._stream_segment(chunks, index)
                self._failures.spoken()
            except GenerationError as exc:
                if self._failures.failed():
                    raise  # the engine is failing, not the text: 4105, the context ends
                await self._skip_segment(index, exc)
        finally:
            self._generating = False
            if chunks is not stream:
                await chunks.aclose()  # type: ignore[attr-defined]
            await stream.aclose()

    async def _stream_segment(self, chunks: AsyncIterator[EngineChunk], index: int) -> None:
        asked = time.perf_counter()
        async for chunk in chunks:
            self._meter.engine_step(time.perf_counter() - asked)
            samples = self._audio.resample(chunk.samples, chunk.final)
            is_last = chunk.final and self._end_follows()
            if len(samples) or chunk.final:
                pending = PendingAudio(index, samples, segment_end=chunk.final, is_last=is_last)
                self._last_queued = self._last_queued or is_last
                await self._outbox.put(
                    Outgoing(self._stream_key, render=partial(self._render, pending), size=pending.samples.nbytes)
                )
            if self._words is not None:
                self._words.add(chunk.samples, len(samples))
                if chunk.final:
                    self._words.finish()
            if chunk.notice:
                await self._outbox.send({"type": "notice", "ctx": self.name, "segment": index, "message": chunk.notice})
            asked = time.perf_counter()

    async def _skip_segment(self, index: int, exc: GenerationError) -> None:
        """A segment the engine could not speak: close its audio where it stopped, tell the client, go on."""
        logger.warning("session %s ctx %s: segment %d skipped: %s", self._session_id, self.name, index, exc)
        is_last = self._end_follows()
        samples = self._audio.resample(np.zeros(0, dtype=np.float32), True)
        self._last_queued = self._last_queued or is_last
        pending = PendingAudio(index, samples, segment_end=True, is_last=is_last)
        await self._outbox.put(
            Outgoing(self._stream_key, render=partial(self._render, pending), size=pending.samples.nbytes)
        )
        if self._words is not None:  # the segment's words are timed on the audio it did get
            self._words.add(np.zeros(0, dtype=np.float32), len(samples))
            self._words.finish()
        await self._outbox.send(
            {"type": "notice", "ctx": self.name, "segment": index,
             "message": f"segment {index} could not be spoken and was skipped: {exc}"}
        )

    async def _after_previous_words(self, stream: AsyncIterator[EngineChunk]) -> AsyncIterator[EngineChunk]:
        """The segment's chunks, once the previous segment's words are queued (they must come first).

        The engine starts on this segment meanwhile, so timing words never idles the engine.
        """
        if self._words is None or not self._words.pending:
            return stream
        first = asyncio.ensure_future(anext(stream, None))
        first.add_done_callback(_retrieve)
        try:
            await self._words.settle()
        except BaseException:
            first.cancel()
            raise
        return _chained(first, stream)

    async def _render(self, pending: PendingAudio) -> dict[str, Any] | None:
        message = await self._audio.render(pending)
        if message is not None and len(pending.samples):
            self._meter.first_audio()
        return message

    async def _close_stream(self) -> None:
        """Exactly one is_last per context: send the encoder's tail unless it already went."""
        if not self._last_queued:
            self._last_queued = True
            terminal = partial(self._audio.render_terminal, self._segments_started - 1)
            await self._outbox.put(Outgoing(self._stream_key, render=terminal))

    async def _finish(self, reason: str) -> None:
        await self._settle_words()
        await self._close_stream()
        self._mark_finished()
        await self._send_done(reason)

    async def _fail(self, exc: Exception) -> None:
        logger.warning("session %s ctx %s: generation failed: %s", self._session_id, self.name, exc)
        await self._settle_words()
        await self._close_stream()
        self._mark_finished()
        error = ProtocolError(ErrorCode.GENERATION_FAILED, f"generation failed: {exc}", ctx=self.name)
        await self._outbox.send(error.to_message())
        await self._send_done("error")

    def _mark_finished(self) -> None:
        if self.state is not ContextState.FINISHED:
            self.state = ContextState.FINISHED
            self._on_finished(self)

    # -- stopping ------------------------------------------------------------------------------
    async def _stop_task(self) -> None:
        self._cancel.set()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        if self._words is not None:
            await self._words.stop()

    async def cancel(self) -> None:
        """Barge-in: stop the engine, drop queued text and audio, fence the stream, end the context."""
        self._mark_finished()
        await self._stop_task()
        await self._outbox.drop_audio(self._stream_key)
        self._last_queued = False  # whatever was queued is gone; the terminal chunk closes the stream
        if not self._audio.closed:
            await self._close_stream()
        await self._outbox.send({"type": "cancelled", "ctx": self.name})
        await self._send_done("cancelled")

    async def abort(self) -> None:
        """The session is gone: stop the engine and release everything, sending nothing."""
        self._mark_finished()
        await self._stop_task()

    async def _send_done(self, reason: str) -> None:
        """Queue `done`, built when the writer reaches it: after this stream's last chunk was encoded."""

        async def render() -> dict[str, Any]:
            return self._done_message(reason)

        await self._outbox.put(Outgoing(self.name, render=render, deferred=True))

    def _done_message(self, reason: str) -> dict[str, Any]:
        audio_ms = self._audio.elapsed_ms
        meter = self._meter
        meter.audio_s = audio_ms / 1000.0
        meter.report(self._metrics, "websocket")
        ttfa_ms = round(meter.ttfa_s * 1000.0, 3) if meter.ttfa_s is not None else None
        rtf = round(meter.rtf, 4) if meter.rtf is not None else None
        logger.info(
            "session %s ctx %s done: reason=%s segments=%d audio_ms=%.0f ttfa_ms=%s rtf=%s",
            self._session_id, self.name, reason, self._segments_started, audio_ms, ttfa_ms, rtf,
        )
        return {
            "type": "done",
            "ctx": self.name,
            "reason": reason,
            "audio_ms": audio_ms,
            "segments": self._segments_started,
            "ttfa_ms": ttfa_ms,
            "rtf": rtf,
            "seed": self.request.seed,
        }


async def _chained(first: asyncio.Future[EngineChunk | None], rest: AsyncIterator[EngineChunk]) -> AsyncIterator[EngineChunk]:
    chunk = await first
    if chunk is None:
        return
    yield chunk
    async for chunk in rest:
        yield chunk


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Read a prefetched step's outcome, so an error from a cancelled segment is not reported as unretrieved."""
    if not future.cancelled():
        future.exception()


def _close_when_opened(future: asyncio.Future[Voice]) -> None:
    """A voice that finished opening after its context was cancelled is closed, not leaked."""
    if not future.cancelled() and future.exception() is None:
        future.result().close()
