"""One output stream: engine-rate float32 in, one valid encoded byte stream out.

Shaping (resample, then the optional tempo change) runs as audio is generated;
encoding and the timeline advance when a chunk is handed on. The socket does the two
at different times (see realtime/session/audio_stream.py), HTTP at once.
"""

from __future__ import annotations

import numpy as np

from realtime.audio.encoders import StreamEncoder, create_encoder
from realtime.audio.resample import StreamResampler
from realtime.audio.tempo import TempoChanger
from realtime.timeline import Span, Timeline

_EMPTY = np.zeros(0, dtype=np.float32)


class AudioOutput:
    """Resampler, tempo, encoder and timeline of one stream; not thread-safe (one caller at a time, in order)."""

    def __init__(self, format: str, engine_rate: int, sample_rate: int, speed: float = 1.0) -> None:
        self.format = format
        self.sample_rate = sample_rate
        self.encoder: StreamEncoder = create_encoder(format, sample_rate)
        self._resampler = StreamResampler(engine_rate, sample_rate)
        self._tempo = TempoChanger(speed, sample_rate) if speed != 1.0 else None
        self._timeline = Timeline(sample_rate)

    @property
    def blocking(self) -> bool:
        """Whether encoding is worth a worker thread: codecs and tempo are; pcm and wav framing is not."""
        return self.encoder.blocking or self._tempo is not None

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
