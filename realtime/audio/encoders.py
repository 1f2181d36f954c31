"""Streaming encoders: one per output stream, turning float32 chunks into one valid byte stream."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

import numpy as np

from .samples import as_float32_mono, float_to_s16le
from .wav import wav_header

OUTPUT_FORMATS: tuple[str, ...] = ("pcm", "wav", "flac", "ogg", "opus", "mp3", "aac")


class UnsupportedFormatError(ValueError):
    """An output format this build cannot produce: unknown, or in the protocol but not built yet."""

    def __init__(self, format: str, available: tuple[str, ...]) -> None:
        self.format = format
        self.available = available
        listed = ", ".join(available)
        if format in OUTPUT_FORMATS:
            message = f"output format {format!r} is not available yet; available formats: {listed}"
        else:
            message = f"unknown output format {format!r}; available formats: {listed}"
        super().__init__(message)


class StreamEncoder(ABC):
    """Turns one continuous float32 mono stream into ONE valid byte stream of a format.

    Containers must not be restarted per chunk: clients concatenate what they get,
    so headers go out once and trailers only at `close()`.
    """

    format: str
    sample_rate: int

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


class PcmEncoder(StreamEncoder):
    """Raw s16le mono, no framing: the cheapest format and the one latency-critical clients want."""

    format = "pcm"

    def _encode(self, samples: np.ndarray) -> bytes:
        return float_to_s16le(samples)

    def _finish(self) -> bytes:
        return b""


class WavEncoder(StreamEncoder):
    """s16 mono RIFF/WAVE: one header with the first bytes out, then plain PCM.

    A stream's length is unknown when the header is sent, so sizes are 0xFFFFFFFF;
    pass `known_length` (frames) to write real sizes and produce a proper file.
    """

    format = "wav"

    def __init__(self, sample_rate: int, *, known_length: int | None = None) -> None:
        super().__init__(sample_rate)
        if known_length is not None and known_length < 0:
            raise ValueError(f"known_length must be >= 0, got {known_length}")
        self._header: bytes | None = wav_header(sample_rate, known_length)
        self._known_length = known_length
        self._frames = 0

    def _take_header(self) -> bytes:
        header, self._header = self._header or b"", None
        return header

    def _encode(self, samples: np.ndarray) -> bytes:
        if self._known_length is not None and self._frames + samples.size > self._known_length:
            raise ValueError(
                f"wav header promised {self._known_length} frames; "
                f"got {self._frames + samples.size}"
            )
        self._frames += samples.size
        return self._take_header() + float_to_s16le(samples)

    def _finish(self) -> bytes:
        if self._known_length is not None and self._frames != self._known_length:
            raise ValueError(
                f"wav header promised {self._known_length} frames; stream ended at {self._frames}"
            )
        return self._take_header()


# Factories take (sample_rate, known_length); known_length is a whole-buffer hint
# that formats whose headers carry sizes use, and the rest ignore.
_EncoderFactory = Callable[[int, int | None], StreamEncoder]
_ENCODERS: dict[str, _EncoderFactory] = {
    "pcm": lambda rate, _length: PcmEncoder(rate),
    "wav": lambda rate, length: WavEncoder(rate, known_length=length),
}


def available_formats() -> tuple[str, ...]:
    """Formats this build can encode, in the protocol's order."""
    return tuple(f for f in OUTPUT_FORMATS if f in _ENCODERS)


def _factory(format: str) -> _EncoderFactory:
    try:
        return _ENCODERS[format]
    except (KeyError, TypeError):
        raise UnsupportedFormatError(format, available_formats()) from None


def create_encoder(format: str, sample_rate: int) -> StreamEncoder:
    """A fresh streaming encoder for one output stream."""
    return _factory(format)(sample_rate, None)


def encode_audio(samples: np.ndarray, sample_rate: int, format: str) -> bytes:
    """Encode a whole buffer through the same encoders; sizes in headers are real, not 'unknown'."""
    samples = as_float32_mono(samples)
    encoder = _factory(format)(sample_rate, samples.size)
    return encoder.feed(samples) + encoder.close()
