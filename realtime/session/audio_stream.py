"""One context's continuous output stream as protocol `audio` messages, over the pipeline's AudioOutput.

Resampling happens as audio is generated (per segment, flushed at the segment's end
so `flushed` really means everything was sent). Numbering, timestamps and encoding
happen when the writer sends a chunk, so audio dropped by a cancel never reaches the
encoder and the stream the client concatenates stays valid and gapless.

Codecs (flac, ogg, opus, mp3, aac) encode in a worker thread while the writer awaits
the result, so the event loop keeps serving every other session meanwhile; the writer
renders one chunk at a time, so a stream's chunks still reach its encoder in order.
pcm and wav are framed inline: that costs less than the hop to a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from realtime.audio.workers import off_loop
from realtime.pipeline.output import AudioOutput
from realtime.timeline import Span

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class PendingAudio:
    """Resampled audio waiting in the outbox."""

    segment: int
    samples: np.ndarray
    segment_end: bool
    is_last: bool


class AudioStream:
    def __init__(self, ctx: str, format: str, engine_rate: int, sample_rate: int) -> None:
        self.ctx = ctx
        self.format = format
        self.sample_rate = sample_rate
        self.output = AudioOutput(format, engine_rate, sample_rate)
        self._seq = 0

    # -- generation side ---------------------------------------------------------------------
    def resample(self, samples: np.ndarray, segment_end: bool) -> np.ndarray:
        """Engine-rate samples to output-rate samples; at a segment's end the resampler's tail too."""
        return self.output.shape(samples, segment_end)

    # -- sending side --------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.output.closed

    @property
    def elapsed_ms(self) -> float:
        return self.output.elapsed_ms

    async def render(self, pending: PendingAudio) -> dict[str, Any] | None:
        """The `audio` message for `pending`; None once the stream is closed (nothing follows is_last)."""
        if self.output.closed:
            return None
        span: Span
        if self.output.blocking:
            data, span = await off_loop(self.output.encode, pending.samples, pending.is_last)
        else:
            data, span = self.output.encode(pending.samples, pending.is_last)
        message = {
            "type": "audio",
            "ctx": self.ctx,
            "segment": pending.segment,
            "seq": self._seq,
            "data": data,
            "timestamp_ms": span.start_ms,
            "duration_ms": span.duration_ms,
            "segment_end": pending.segment_end,
            "is_last": pending.is_last,
        }
        self._seq += 1
        return message

    async def render_terminal(self, segment: int) -> dict[str, Any] | None:
        """The closing chunk when the stream ends with no audio left: no samples, the encoder's tail, is_last.

        `segment` is the last segment announced (-1 when none was): the chunk belongs to no new
        segment, and `segment_end` stays false since that segment's own end was already marked
        (or, after a cancel, never came).
        """
        return await self.render(PendingAudio(segment, _EMPTY, segment_end=False, is_last=True))
