"""Streaming sample-rate conversion from the engine's rate to the rate a client asked for."""

from __future__ import annotations

import numpy as np
import soxr

from .formats import SAMPLE_RATES
from .samples import as_float32_mono

OUTPUT_SAMPLE_RATES: tuple[int, ...] = SAMPLE_RATES

_QUALITY = "HQ"
_EMPTY = np.zeros(0, dtype=np.float32)
_EMPTY.flags.writeable = False  # shared: returned for every empty result


def resample_whole(samples: np.ndarray, in_rate: int, out_rate: int) -> np.ndarray:
    """One whole buffer at another rate (float32 mono): for audio that is complete, e.g. a segment to align."""
    audio = as_float32_mono(samples)
    if in_rate == out_rate or not len(audio):
        return audio
    return soxr.resample(audio, in_rate, out_rate, quality=_QUALITY).astype(np.float32, copy=False)


class StreamResampler:
    """Per-utterance streaming resampler (soxr.ResampleStream, quality HQ).

    Identity (no copy, no delay) when the rates are equal.

    A stream, not per-chunk `soxr.resample`, because resampling chunks independently
    clicks at every boundary; soxr's output is independent of how the input is chunked.
    """

    __slots__ = ("in_rate", "out_rate", "_stream")

    def __init__(self, in_rate: int, out_rate: int) -> None:
        for name, rate in (("in_rate", in_rate), ("out_rate", out_rate)):
            if isinstance(rate, bool) or not isinstance(rate, int) or rate <= 0:
                raise ValueError(f"{name} must be a positive int, got {rate!r}")
        self.in_rate = in_rate
        self.out_rate = out_rate
        self._stream: soxr.ResampleStream | None = (
            None if in_rate == out_rate else self._new_stream()
        )

    @property
    def is_identity(self) -> bool:
        return self._stream is None

    def _new_stream(self) -> soxr.ResampleStream:
        return soxr.ResampleStream(
            self.in_rate, self.out_rate, 1, dtype="float32", quality=_QUALITY
        )

    def process(self, samples: np.ndarray) -> np.ndarray:
        """Resample the next chunk; the filter's delay means early calls may return few or none."""
        samples = as_float32_mono(samples)
        if self._stream is None:
            return samples
        if samples.size == 0:
            return _EMPTY
        return self._stream.resample_chunk(samples)

    def finish(self) -> np.ndarray:
        """Flush the filter's tail and reset, so the same object can carry the next utterance."""
        if self._stream is None:
            return _EMPTY
        tail = self._stream.resample_chunk(_EMPTY, last=True)
        # A fresh stream, rather than clear(), guarantees no state leaks between utterances.
        self._stream = self._new_stream()
        return tail
