"""A context: one continuous audio stream of a socket session, spoken through the one pipeline.

The context keeps the socket's edges: its text buffer (segmenter, flush and end
markers, the buffered-text limit), one task that takes that work queue in order and
drives the stream's `SpeechPipeline` segment by segment, the outbox (bounded: a slow
reader pauses generation), the protocol's messages, and the cancel fence. Audio waits
in the outbox shaped but unencoded: the pipeline delivers it (encodes, numbers,
timestamps) when the writer sends it, so audio a cancel drops never reaches the
encoder and the stream stays one valid file.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from realtime.backend.backend import TTSBackend
from realtime.engines.base import GenerationError, VoiceRequest
from realtime.metrics import Metrics
from realtime.pipeline.output import PendingAudio
from realtime.pipeline.speech import OutputPlan, SegmentStarted, SpeechPipeline, StreamNotice
from realtime.pipeline.words import SegmentWordsEvent
from realtime.protocol.errors import ErrorCode, ProtocolError
from realtime.segmenter import Segment, Segmenter, SegmenterPolicy
from realtime.session.outbox import Outbox, Outgoing

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
        voice_request: VoiceRequest,
        settings: StreamSettings,
        backend: TTSBackend,
        outbox: Outbox,
        on_finished: Callable[[Context], None],
        on_crash: Callable[[BaseException], None],
        session_id: str,
        metrics: Metrics | None = None,
    ) -> None:
        self.name = name
        self.voice_request = voice_request
        self.state = ContextState.OPEN
        self._settings = settings
        self._outbox = outbox
        self._on_finished = on_finished
        self._on_crash = on_crash
        self._session_id = session_id
        self._metrics = metrics
        self._segmenter = Segmenter(
            SegmenterPolicy(mode=settings.segmentation, max_chars=settings.max_segment_chars)  # type: ignore[arg-type]
        )
        plan = OutputPlan(settings.format, settings.sample_rate, 1.0, settings.max_segment_chars, settings.timestamps)
        self._pipeline = SpeechPipeline(
            backend, voice_request, plan, on_words=self._send_words, label=f"session {session_id} ctx {name}"
        )
        # This stream's audio in the outbox, told apart from an earlier stream of the same name
        # whose last chunks may still wait there: a cancel drops only its own.
        self._stream_key = object()
        self._work: deque[Segment | _Marker] = deque()
        self._work_ready = asyncio.Event()
        self._queued_chars = 0
        self.client_ended = False  # the client sent `end` (rather than the server finishing it first)
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
        return self._pipeline.generating or any(isinstance(item, Segment) for item in self._work)

    # -- queue -----------------------------------------------------------------------------
    def _enqueue(self, segments: list[Segment]) -> None:
        for segment in segments:
            self._pipeline.text_ready()
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
        try:
            await self._pipeline.open()
        except GenerationError as exc:
            await self._fail(exc)
            return
        try:
            while True:
                item = await self._next_item()
                if isinstance(item, Segment):
                    await self._speak(item)
                elif item is _Marker.FLUSH:
                    await self._pipeline.settle_words()
                    await self._outbox.send({"type": "flushed", "ctx": self.name})
                else:
                    await self._finish("end")
                    return
        except GenerationError as exc:
            await self._fail(exc)
        finally:
            self._pipeline.close()

    async def _speak(self, segment: Segment) -> None:
        """One segment through the pipeline, its events as protocol messages; audio waits in the outbox unencoded."""
        events = self._pipeline.speak(segment, ends_stream=self._end_follows)
        try:
            async for event in events:
                if isinstance(event, PendingAudio):
                    await self._outbox.put(
                        Outgoing(self._stream_key, render=partial(self._render, event), size=event.samples.nbytes)
                    )
                elif isinstance(event, SegmentStarted):
                    await self._outbox.send(
                        {
                            "type": "segment",
                            "ctx": self.name,
                            "segment": event.segment,
                            "text": event.text,
                            "char_start": event.char_start,
                            "char_end": event.char_end,
                        }
                    )
                elif isinstance(event, StreamNotice):
                    await self._outbox.send(
                        {"type": "notice", "ctx": self.name, "segment": event.segment, "message": event.message}
                    )
        finally:
            await events.aclose()  # stops the engine at once when the context stops mid-segment

    async def _send_words(self, event: SegmentWordsEvent) -> None:
        """A segment's words, queued as part of this stream (behind its last chunk): a cancel drops them with the audio."""
        timed = event.timed
        if timed.notice:
            await self._outbox.send(
                {"type": "notice", "ctx": self.name, "segment": event.segment, "message": timed.notice}
            )
        message = {"type": "words", "ctx": self.name, "segment": event.segment, "words": timed.wire_words(),
                   "source": timed.source}

        async def render() -> dict[str, Any]:
            return message

        await self._outbox.put(Outgoing(self._stream_key, render=render))

    async def _render(self, pending: PendingAudio) -> dict[str, Any] | None:
        """The `audio` message, encoded now that the writer sends it; None once the stream is closed."""
        audio = await self._pipeline.deliver(pending)
        if audio is None:
            return None
        return {
            "type": "audio",
            "ctx": self.name,
            "segment": audio.segment,
            "seq": audio.seq,
            "data": audio.data,
            "timestamp_ms": audio.timestamp_ms,
            "duration_ms": audio.duration_ms,
            "segment_end": audio.segment_end,
            "is_last": audio.is_last,
        }

    async def _close_stream(self) -> None:
        """Exactly one is_last per context: send the encoder's tail unless it already went."""
        closing = self._pipeline.closing_chunk()
        if closing is not None:
            await self._outbox.put(Outgoing(self._stream_key, render=partial(self._render, closing)))

    async def _finish(self, reason: str) -> None:
        await self._pipeline.settle_words()
        await self._close_stream()
        self._mark_finished()
        await self._send_done(reason)

    async def _fail(self, exc: Exception) -> None:
        logger.warning("session %s ctx %s: generation failed: %s", self._session_id, self.name, exc)
        await self._pipeline.settle_words()
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
        self._pipeline.interrupt()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        await self._pipeline.stop_words()

    async def cancel(self) -> None:
        """Barge-in: stop the engine, drop queued text and audio, fence the stream, end the context."""
        self._mark_finished()
        await self._stop_task()
        await self._outbox.drop_audio(self._stream_key)
        self._pipeline.forget_queued()  # whatever was queued is gone; the closing chunk closes the stream
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
        audio_ms = self._pipeline.output.elapsed_ms
        meter = self._pipeline.meter
        meter.report(self._metrics, "websocket")
        ttfa_ms = round(meter.ttfa_s * 1000.0, 3) if meter.ttfa_s is not None else None
        rtf = round(meter.rtf, 4) if meter.rtf is not None else None
        segments = self._pipeline.segments
        logger.info(
            "session %s ctx %s done: reason=%s segments=%d audio_ms=%.0f ttfa_ms=%s rtf=%s",
            self._session_id, self.name, reason, segments, audio_ms, ttfa_ms, rtf,
        )
        return {
            "type": "done",
            "ctx": self.name,
            "reason": reason,
            "audio_ms": audio_ms,
            "segments": segments,
            "ttfa_ms": ttfa_ms,
            "rtf": rtf,
            "seed": self.voice_request.seed,
        }
