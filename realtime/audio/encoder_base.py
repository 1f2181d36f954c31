"""The one interface every output format implements: float32 chunks in, one valid byte stream out."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .samples import as_float32_mono


class StreamEncoder(ABC):
    """Turns one continuous float32 mono stream into ONE valid byte stream of a format.

    Containers must not be restarted per chunk: clients concatenate what they get,
    so headers go out once and trailers only at `close()`.
    """

    format: str
    sample_rate: int
    # True when encoding costs real CPU (a codec): callers on an event loop run it in a thread.
    # Plain PCM framing is cheaper than the hop to a thread, so pcm and wav stay inline.
    blocking: bool = True

    def __init__(self, sample_rate: int) -> None:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ValueError(f"sample_rate must be a positive int, got {sample_rate!r}")
        self.sample_rate = sample_rate
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def feed(self, samples: np.ndarray) -> bytes:
        """Encode float32 mono samples in [-1, 1]; return the bytes ready now (may be b"")."""
        self._check_open("feed")
        return self._encode(as_float32_mono(samples))

    def close(self) -> bytes:
        """End the stream and return what is left (tail, trailers); the encoder is then spent."""
        self._check_open("close")
        self._closed = True
        return self._finish()

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise RuntimeError(f"cannot {action}: {self.format} encoder is already closed")

    @abstractmethod
    def _encode(self, samples: np.ndarray) -> bytes:
        """Encode validated 1-D float32 samples."""

    @abstractmethod
    def _finish(self) -> bytes:
        """Flush whatever the format still owes."""
