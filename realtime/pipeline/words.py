"""One stream's word timestamps: gather a segment's audio, time its words off the loop, hand them on.

The pipeline calls `begin` when a segment starts, `add` for each chunk of it and
`finish` after its last chunk was handed on. The words are timed in the aligner's
threads while the engine goes on; they go to the door's sink as soon as they are
timed, and `settle` (awaited before the stream hands on anything more of its own)
keeps them ahead of the next segment, `flushed` and the end. `stop` (a cancel, a
client gone) drops words not yet handed on, so none follow a cancel.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import numpy as np

from realtime.words.aligner import SegmentWords, WordTimer
from realtime.words.timing import SegmentAudio


@dataclass(frozen=True, slots=True)
class SegmentWordsEvent:
    """A segment's words, handed on after its last audio: offsets index `text` (the segment as spoken)."""

    segment: int
    text: str
    char_start: int  # where the segment sits in the stream's whole text
    char_end: int
    timed: SegmentWords


WordsSink = Callable[[SegmentWordsEvent], Awaitable[None]]


class WordStamps:
    def __init__(self, timer: WordTimer, language: str, engine_rate: int, sample_rate: int, sink: WordsSink) -> None:
        self._timer = timer
        self._language = language
        self._engine_rate = engine_rate
        self._sample_rate = sample_rate
        self._sink = sink
        self._position = 0  # samples handed on so far on the stream's timeline (at its output rate)
        self._segment: tuple[int, str, int, int, int] | None = None  # index, text, offsets, first sample
        self._engine_audio: list[np.ndarray] = []
        self._pending: asyncio.Task[None] | None = None
        timer.prepare()

    def begin(self, index: int, text: str, char_start: int, char_end: int) -> None:
        self._segment = (index, text, char_start, char_end, self._position)
        self._engine_audio = []

    def add(self, engine_samples: np.ndarray, queued_samples: int) -> None:
        """One chunk: the engine's samples (what the aligner hears) and how many went out on the timeline."""
        if len(engine_samples):
            self._engine_audio.append(engine_samples)
        self._position += queued_samples

    def finish(self) -> None:
        """The segment's last chunk was handed on: time its words in the background."""
        if self._segment is None:
            return
        index, text, char_start, char_end, start = self._segment
        self._segment = None
        audio = np.concatenate(self._engine_audio) if self._engine_audio else np.zeros(0, dtype=np.float32)
        self._engine_audio = []
        span = SegmentAudio(start, self._position - start, self._sample_rate)
        self._pending = asyncio.create_task(
            self._time_and_hand_on(index, text, char_start, char_end, audio, span), name=f"words:{index}"
        )

    async def _time_and_hand_on(
        self, index: int, text: str, char_start: int, char_end: int, audio: np.ndarray, span: SegmentAudio
    ) -> None:
        timed = await self._timer.time_words_off_loop(text, audio, self._engine_rate, span, self._language)
        await self._sink(SegmentWordsEvent(index, text, char_start, char_end, timed))

    @property
    def pending(self) -> bool:
        """A finished segment's words are still being timed or handed on."""
        return self._pending is not None

    async def settle(self) -> None:
        """Wait until the last finished segment's words are handed on."""
        if self._pending is not None:
            await self._pending  # still held here while awaited, so a stop meanwhile cancels it too
            self._pending = None

    async def stop(self) -> None:
        """Forget the segment in progress and any words not yet handed on."""
        self._segment = None
        self._engine_audio = []
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
