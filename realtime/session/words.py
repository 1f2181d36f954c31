"""One context's word timestamps: gather a segment's audio, time its words off the loop, send `words`.

The context calls `begin` when a segment starts, `add` for each chunk of it and
`finish` after its last chunk was queued. The words are timed in the aligner's threads
while the context goes on; they are queued right behind the segment's last chunk,
and `settle` (awaited before the context queues anything more of its own) keeps
them ahead of the next segment, `flushed` and `done`. A cancel stops the timing and
drops words not yet sent, so none follow `cancelled`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from realtime.words.aligner import WordTimer
from realtime.words.timing import SegmentAudio

Send = Callable[[dict[str, Any]], Awaitable[None]]


class WordStamps:
    def __init__(
        self,
        ctx: str,
        timer: WordTimer,
        language: str,
        engine_rate: int,
        sample_rate: int,
        send_words: Send,
        send_notice: Send,
    ) -> None:
        self._ctx = ctx
        self._timer = timer
        self._language = language
        self._engine_rate = engine_rate
        self._sample_rate = sample_rate
        self._send_words = send_words
        self._send_notice = send_notice
        self._position = 0  # samples queued so far on the context's timeline (at the session's rate)
        self._segment: tuple[int, str, int] | None = None  # index, text, first sample
        self._engine_audio: list[np.ndarray] = []
        self._pending: asyncio.Task[None] | None = None
        timer.prepare()

    def begin(self, index: int, text: str) -> None:
        self._segment = (index, text, self._position)
        self._engine_audio = []

    def add(self, engine_samples: np.ndarray, queued_samples: int) -> None:
        """One chunk: the engine's samples (what the aligner hears) and how many went out on the timeline."""
        if len(engine_samples):
            self._engine_audio.append(engine_samples)
        self._position += queued_samples

    def finish(self) -> None:
        """The segment's last chunk is queued: time its words in the background."""
        if self._segment is None:
            return
        index, text, start = self._segment
        self._segment = None
        audio = np.concatenate(self._engine_audio) if self._engine_audio else np.zeros(0, dtype=np.float32)
        self._engine_audio = []
        span = SegmentAudio(start, self._position - start, self._sample_rate)
        self._pending = asyncio.create_task(self._time_and_send(index, text, audio, span), name=f"words:{self._ctx}")

    async def _time_and_send(self, index: int, text: str, audio: np.ndarray, span: SegmentAudio) -> None:
        timed = await self._timer.time_words_off_loop(text, audio, self._engine_rate, span, self._language)
        if timed.notice:
            await self._send_notice({"type": "notice", "ctx": self._ctx, "segment": index, "message": timed.notice})
        await self._send_words(
            {"type": "words", "ctx": self._ctx, "segment": index, "words": timed.wire_words(), "source": timed.source}
        )

    @property
    def pending(self) -> bool:
        """A finished segment's words are still being timed or queued."""
        return self._pending is not None

    async def settle(self) -> None:
        """Wait until the last finished segment's words are queued."""
        if self._pending is not None:
            await self._pending  # still held here while awaited, so a cancel meanwhile stops it too
            self._pending = None

    async def stop(self) -> None:
        """Cancel: forget the segment in progress and any words not yet queued."""
        self._segment = None
        self._engine_audio = []
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
