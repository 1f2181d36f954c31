"""One output stream: engine-rate float32 in, one valid encoded byte stream out.

Shaping (resample, then the optional tempo change) runs as audio is generated;
encoding, numbering and the timeline advance when a chunk is delivered (`deliver`).
The socket delivers when its writer sends a chunk, so audio a cancel drops never
reaches the encoder; HTTP delivers each chunk as soon as it is shaped.

Codecs (flac, ogg, opus, mp3, aac) and the tempo change run in a worker thread while
the caller awaits the result, so the event loop keeps serving everyone else; pcm and
wav are framed inline: that costs less than the hop to a thread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from realtime.audio.encoders import StreamEncoder, create_encoder
from realtime.audio.resample import StreamResampler
from realtime.audio.tempo import TempoChanger
from realtime.audio.workers import off_loop
from realtime.timeline import Span, Timeline

_EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, slots=True)
class PendingAudio:
    """Shaped audio (at the output rate) waiting to be delivered: not yet encoded, not yet on the timeline."""

    segment: int
    samples: np.ndarray
    segment_end: bool
    is_last: bool


@dataclass(frozen=True, slots=True)
class EncodedAudio:
    """One delivered chunk: its bytes, its number and its place on the stream's timeline."""

    segment: int
    seq: int
    data: bytes
    timestamp_ms: float
    duration_ms: float
    segment_end: bool
    is_last: bool
    samples: int


class AudioOutput:
    """Resampler, tempo, encoder and timeline of one stream; not thread-safe (one caller at a time, in order)."""

    def __init__(self, format: str, engine_rate: int, sample_rate: int, speed: float = 1.0) -> None:
        self.format = format
        self.sample_rate = sample_rate
        self.encoder: StreamEncoder = create_encoder(format, sample_rate)
        self._resampler = StreamResampler(engine_rate, sample_rate)
        self._tempo = TempoChanger(speed, sample_rate) if speed != 1.0 else None
        self._timeline = Timeline(sample_rate)
        self._seq = 0

    @property
    def blocking(self) -> bool:
        """Whether encoding is worth a worker thread: codecs and tempo are; pcm and wav framing is not."""
        return self.encoder.blocking or self._tempo is not None

    @property
    def shaping_blocking(self) -> bool:
        """Whether shaping is worth a worker thread: the tempo change is; resampling a chunk is not."""
        return self._tempo is not None

    @property
    def closed(self) -> bool:
        return self.encoder.closed

    @property
    def elapsed_ms(self) -> float:
        return self._timeline.elapsed_ms

    @property
    def samples(self) -> int:
        """Output-rate samples encoded so far."""
        return self._timeline.samples

    def shape(self, samples: np.ndarray, segment_end: bool) -> np.ndarray:
        """Engine-rate samples at the output rate (and tempo); at a segment's end the resampler's tail too."""
        out = self._resampler.process(samples) if len(samples) else _EMPTY
        if segment_end:
            tail = self._resampler.finish()
            if len(tail):
                out = np.concatenate([out, tail]) if len(out) else tail
        if self._tempo is not None:
            out = self._tempo.process(out)
        return out

    def encode(self, samples: np.ndarray, is_last: bool) -> tuple[bytes, Span]:
        """Shaped samples as encoded bytes and their place on the timeline; `is_last` closes the stream."""
        data = self.encoder.feed(samples) if len(samples) else b""
        count = len(samples)
        if is_last:
            if self._tempo is not None:
                tail = self._tempo.finish()
                if len(tail):
                    data += self.encoder.feed(tail)
                    count += len(tail)
            data += self.encoder.close()
        return data, self._timeline.advance(count)

    async def deliver(self, pending: PendingAudio) -> EncodedAudio | None:
        """Encode `pending` and number it (off the loop for codecs); None once the stream is closed.

        Nothing follows the chunk that closed the stream: a late chunk is dropped, not encoded.
        """
        if self.closed:
            return None
        if self.blocking:
            data, span = await off_loop(self.encode, pending.samples, pending.is_last)
        else:
            data, span = self.encode(pending.samples, pending.is_last)
        seq, self._seq = self._seq, self._seq + 1
        return EncodedAudio(
            pending.segment, seq, data, span.start_ms, span.duration_ms, pending.segment_end, pending.is_last,
            span.samples,
        )
