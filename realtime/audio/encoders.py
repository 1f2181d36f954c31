"""Streaming encoders: one per output stream, turning float32 chunks into one valid byte stream.

pcm and wav are framed here; the codecs live in `av_encoders` (flac, opus, mp3, aac
through PyAV) and `vorbis` (ogg through libsndfile). Every format of the protocol is
built: a client gets what it asked for or an error, never another format.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .av_encoders import av_encoder_factory
from .encoder_base import StreamEncoder
from .formats import FORMATS
from .samples import as_float32_mono, float_to_s16le
from .vorbis import VorbisEncoder
from .wav import wav_header

OUTPUT_FORMATS: tuple[str, ...] = FORMATS


class UnsupportedFormatError(ValueError):
    """An output format this build cannot produce: not one of the protocol's formats."""

    def __init__(self, format: str, available: tuple[str, ...]) -> None:
        self.format = format
        self.available = available
        listed = ", ".join(available)
        super().__init__(f"unknown output format {format!r}; available formats: {listed}")


class PcmEncoder(StreamEncoder):
    """Raw s16le mono, no framing: the cheapest format and the one latency-critical clients want."""

    format = "pcm"
    blocking = False

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
    blocking = False

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
    "flac": av_encoder_factory("flac"),
    "ogg": lambda rate, _length: VorbisEncoder(rate),
    "opus": av_encoder_factory("opus"),
    "mp3": av_encoder_factory("mp3"),
    "aac": av_encoder_factory("aac"),
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
