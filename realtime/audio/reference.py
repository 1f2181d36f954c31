"""Decode a client's reference audio (for voice cloning) into float32 mono at the engine's rate.

Everything happens in memory: the bytes are untrusted, so nothing touches the
filesystem or network, sizes are checked before decoding and decoding stops early
on inputs that expand to far more audio than allowed (decompression bombs).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import soundfile as sf
import soxr

# How far past max_seconds decoding may run before we give up on an input.
_DECODE_SLACK_S = 1.0
_RESAMPLE_QUALITY = "HQ"


class ReferenceProblem(StrEnum):
    """Why reference audio was refused; lets callers react without parsing messages."""

    EMPTY = "empty"
    TOO_BIG = "too_big"
    UNDECODABLE = "undecodable"
    NO_AUDIO = "no_audio"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"


class ReferenceAudioError(ValueError):
    """Reference audio the server cannot use; the message says what is wrong."""

    def __init__(self, problem: ReferenceProblem, message: str) -> None:
        super().__init__(message)
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ReferenceAudio:
    """Decoded reference audio, ready for an engine's voice-cloning input."""

    samples: np.ndarray  # float32 mono at `sample_rate`
    sample_rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise ValueError(
                f"samples must be 1-D float32, got {self.samples.dtype} {self.samples.shape}"
            )
        if self.sample_rate <= 0:
            raise ValueError(f"sample_rate must be positive, got {self.sample_rate}")

    @property
    def duration_s(self) -> float:
        return self.samples.size / self.sample_rate


@dataclass(frozen=True, slots=True)
class _Decoded:
    """Mono float32 samples at the source's own rate."""

    samples: np.ndarray
    sample_rate: int


def decode_reference_audio(
    data: bytes,
    *,
    target_rate: int = 24000,
    min_seconds: float = 1.0,
    max_seconds: float = 30.0,
    max_bytes: int = 10_000_000,
) -> ReferenceAudio:
    """Decode any common format (wav, flac, ogg, mp3, m4a, opus, webm...) to mono at target_rate."""
    if target_rate <= 0 or max_bytes <= 0 or not 0 <= min_seconds <= max_seconds:
        raise ValueError(
            f"bad limits: target_rate={target_rate}, max_bytes={max_bytes}, "
            f"min_seconds={min_seconds}, max_seconds={max_seconds}"
        )
    data = bytes(data)  # no copy for bytes; sizes below are in bytes for any buffer type
    if not data:
        raise ReferenceAudioError(ReferenceProblem.EMPTY, "reference audio is empty")
    if len(data) > max_bytes:
        raise ReferenceAudioError(
            ReferenceProblem.TOO_BIG,
            f"reference audio is too big: {len(data)} bytes (max {max_bytes} bytes)",
        )

    decode_limit_s = max_seconds + _DECODE_SLACK_S
    decoded = _decode_with_soundfile(data, decode_limit_s)
    if decoded is None:
        decoded = _decode_with_pyav(data, decode_limit_s)

    if not np.all(np.isfinite(decoded.samples)):
        raise ReferenceAudioError(
            ReferenceProblem.UNDECODABLE, "reference audio contains NaN or infinite samples"
        )
    duration = decoded.samples.size / decoded.sample_rate
    if duration > max_seconds:
        raise ReferenceAudioError(
            ReferenceProblem.TOO_LONG,
            f"reference audio is too long: {duration:.2f} s (max {max_seconds:g} s)",
        )
    if duration < min_seconds:
        raise ReferenceAudioError(
            ReferenceProblem.TOO_SHORT,
            f"reference audio is too short: {duration:.2f} s (min {min_seconds:g} s)",
        )

    samples = decoded.samples
    if decoded.sample_rate != target_rate:
        samples = soxr.resample(
            samples, decoded.sample_rate, target_rate, quality=_RESAMPLE_QUALITY
        )
    samples = np.ascontiguousarray(samples, dtype=np.float32)
    return ReferenceAudio(samples=samples, sample_rate=target_rate)


def _too_long_while_decoding(limit_s: float) -> ReferenceAudioError:
    return ReferenceAudioError(
        ReferenceProblem.TOO_LONG,
        f"reference audio is too long: decoding stopped past {limit_s:g} s",
    )


def _decode_with_soundfile(data: bytes, limit_s: float) -> _Decoded | None:
    """libsndfile path (wav, flac, ogg, mp3); None when it cannot read the bytes: PyAV's turn."""
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            rate = int(f.samplerate)
            if rate <= 0:
                return None
            limit_frames = int(limit_s * rate)
            # A bounded read: a header may claim any length, only what decodes counts.
            frames = f.read(frames=limit_frames + 1, dtype="float32", always_2d=True)
    except Exception:  # untrusted bytes: any libsndfile failure just means "try PyAV"
        return None
    if frames.shape[0] > limit_frames:
        raise _too_long_while_decoding(limit_s)
    if frames.shape[1] == 0:
        return None
    return _Decoded(samples=_mix_to_mono(frames.T), sample_rate=rate)


def _decode_with_pyav(data: bytes, limit_s: float) -> _Decoded:
    """FFmpeg path for everything libsndfile does not read (mp3, m4a/aac, opus, webm...)."""
    try:
        return _pyav_decode_first_audio_stream(data, limit_s)
    except ReferenceAudioError:
        raise
    # Untrusted bytes: FFmpeg and PyAV fail in many ways, and all of them mean "undecodable".
    except Exception as exc:
        raise ReferenceAudioError(
            ReferenceProblem.UNDECODABLE,
            "reference audio could not be decoded: not a supported audio format, or corrupt",
        ) from exc


def _pyav_decode_first_audio_stream(data: bytes, limit_s: float) -> _Decoded:
    import av  # here, not at the top: the engines import this module, and the server has PyAV loaded already

    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.audio:
            raise ReferenceAudioError(
                ReferenceProblem.NO_AUDIO, "reference audio has no audio stream"
            )
        stream = container.streams.audio[0]
        # Planar float keeps each channel in its own row; layout and rate are left as decoded.
        converter = av.AudioResampler(format="fltp")
        chunks: list[np.ndarray] = []
        total = 0
        rate = 0
        for frame in container.decode(stream):
            for out in converter.resample(frame):
                rate = rate or out.sample_rate
                chunk = _mix_to_mono(out.to_ndarray())
                chunks.append(chunk)
                total += chunk.size
            if rate and total > limit_s * rate:
                raise _too_long_while_decoding(limit_s)
        for out in converter.resample(None):
            rate = rate or out.sample_rate
            chunks.append(_mix_to_mono(out.to_ndarray()))
    if not chunks or rate <= 0:
        raise ReferenceAudioError(
            ReferenceProblem.NO_AUDIO, "reference audio contains no decodable audio frames"
        )
    return _Decoded(samples=np.concatenate(chunks), sample_rate=rate)


def _mix_to_mono(channels: np.ndarray) -> np.ndarray:
    """Average a (channels, frames) array into one float32 channel."""
    if channels.shape[0] == 1:
        return np.ascontiguousarray(channels[0], dtype=np.float32)
    return channels.mean(axis=0, dtype=np.float32)
