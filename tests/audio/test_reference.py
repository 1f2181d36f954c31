"""Reference audio: real files of common formats in, float32 mono at the engine's rate out."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
import soundfile as sf

from realtime.audio.reference import (
    ReferenceAudio,
    ReferenceAudioError,
    ReferenceProblem,
    decode_reference_audio,
)

SRC_RATE = 44100
TARGET = 24000
FREQ = 440.0


def _stereo_sine(seconds: float, rate: int = SRC_RATE) -> np.ndarray:
    """(frames, 2): a sine in both channels, the right one quieter, so the mono mean is 0.3*sin."""
    t = np.arange(int(round(seconds * rate))) / rate
    s = np.sin(2 * np.pi * FREQ * t)
    return np.stack([0.4 * s, 0.2 * s], axis=1).astype(np.float32)


def _soundfile_bytes(seconds: float, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, _stereo_sine(seconds), SRC_RATE, format=fmt, subtype=subtype)
    return buf.getvalue()


def _pyav_bytes(seconds: float, container_format: str, codec: str, rate: int = SRC_RATE) -> bytes:
    """Encode stereo sine with FFmpeg, in memory."""
    audio = _stereo_sine(seconds, rate)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format=container_format) as out:
        stream = out.add_stream(codec, rate=rate, layout="stereo")
        frame_size = stream.codec_context.frame_size or 1152
        for start in range(0, audio.shape[0], frame_size):
            block = np.ascontiguousarray(audio[start : start + frame_size].T)
            frame = av.AudioFrame.from_ndarray(block, format="fltp", layout="stereo")
            frame.sample_rate = rate
            frame.pts = start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return buf.getvalue()


def _dominant_hz(ref: ReferenceAudio) -> float:
    spectrum = np.abs(np.fft.rfft(ref.samples))
    return float(np.argmax(spectrum) * ref.sample_rate / ref.samples.size)


def _check(ref: ReferenceAudio, seconds: float = 2.0, tolerance_s: float = 0.03) -> None:
    assert ref.sample_rate == TARGET
    assert ref.samples.dtype == np.float32 and ref.samples.ndim == 1
    assert abs(ref.duration_s - seconds) <= tolerance_s
    assert _dominant_hz(ref) == pytest.approx(FREQ, abs=1.0)
    # The mean of 0.4*sin and 0.2*sin: peak near 0.3, never the louder channel alone.
    middle = ref.samples[TARGET // 4 : -TARGET // 4]
    assert np.max(np.abs(middle)) == pytest.approx(0.3, abs=0.03)


@pytest.mark.parametrize(
    ("fmt", "subtype"),
    [("WAV", "PCM_16"), ("WAV", "FLOAT"), ("FLAC", None), ("OGG", "VORBIS")],
)
def test_soundfile_formats(fmt: str, subtype: str | None) -> None:
    _check(decode_reference_audio(_soundfile_bytes(2.0, fmt, subtype)))


def test_mp3() -> None:
    _check(decode_reference_audio(_pyav_bytes(2.0, "mp3", "mp3")))


def test_m4a_aac() -> None:
    # AAC adds priming samples FFmpeg may or may not trim; a frame (1024) of slack.
    _check(decode_reference_audio(_pyav_bytes(2.0, "ipod", "aac")), tolerance_s=0.05)


def test_webm_opus() -> None:
    _check(decode_reference_audio(_pyav_bytes(2.0, "webm", "libopus", rate=48000)))


def test_target_rate_and_same_rate() -> None:
    ref = decode_reference_audio(_soundfile_bytes(2.0, "WAV"), target_rate=SRC_RATE)
    assert ref.sample_rate == SRC_RATE and ref.samples.size == 2 * SRC_RATE
    ref16 = decode_reference_audio(_soundfile_bytes(2.0, "FLAC"), target_rate=16000)
    assert ref16.sample_rate == 16000 and abs(ref16.samples.size - 32000) <= 2


def test_accepts_bytearray_and_memoryview() -> None:
    data = _soundfile_bytes(1.5, "WAV")
    for buffer in (bytearray(data), memoryview(data)):
        assert decode_reference_audio(buffer).sample_rate == TARGET  # type: ignore[arg-type]


def _problem(data: bytes, **limits: float) -> ReferenceAudioError:
    with pytest.raises(ReferenceAudioError) as info:
        decode_reference_audio(data, **limits)  # type: ignore[arg-type]
    assert isinstance(info.value, ValueError)
    return info.value


def test_too_short() -> None:
    err = _problem(_soundfile_bytes(0.5, "WAV"))
    assert err.problem is ReferenceProblem.TOO_SHORT
    assert "too short" in str(err) and "0.50 s" in str(err) and "min 1 s" in str(err)


def test_too_long() -> None:
    err = _problem(_soundfile_bytes(31.0, "FLAC"))
    assert err.problem is ReferenceProblem.TOO_LONG
    assert "too long" in str(err) and "31.00 s" in str(err) and "max 30 s" in str(err)


@pytest.mark.parametrize("fmt", ["flac", "m4a"])  # libsndfile path, then FFmpeg path
def test_far_too_long_stops_decoding_early(fmt: str) -> None:
    data = _soundfile_bytes(40.0, "FLAC") if fmt == "flac" else _pyav_bytes(40.0, "ipod", "aac")
    err = _problem(data)
    assert err.problem is ReferenceProblem.TOO_LONG
    assert "decoding stopped past 31 s" in str(err)


def test_too_big() -> None:
    data = _soundfile_bytes(2.0, "WAV")
    err = _problem(data, max_bytes=1000)
    assert err.problem is ReferenceProblem.TOO_BIG
    assert f"{len(data)} bytes" in str(err) and "max 1000 bytes" in str(err)


def test_empty() -> None:
    err = _problem(b"")
    assert err.problem is ReferenceProblem.EMPTY and "empty" in str(err)


@pytest.mark.parametrize(
    "garbage",
    [
        b"\x00",
        b"hello, this is not audio at all" * 20,
        np.random.default_rng(3).bytes(50_000),
        b"RIFF\xff\xff\xff\xffWAVEfmt " + b"\x00" * 64,
    ],
)
def test_garbage(garbage: bytes) -> None:
    err = _problem(garbage)
    assert err.problem in {
        ReferenceProblem.UNDECODABLE,
        ReferenceProblem.NO_AUDIO,
        ReferenceProblem.TOO_SHORT,
    }
    assert str(err).startswith("reference audio")


def test_undecodable_message() -> None:
    err = _problem(b"hello, this is not audio at all" * 20)
    assert err.problem is ReferenceProblem.UNDECODABLE
    assert "could not be decoded" in str(err) and err.__cause__ is not None


def test_truncated_file() -> None:
    data = _soundfile_bytes(2.0, "FLAC")
    err = _problem(data[: len(data) // 20])
    assert err.problem in {ReferenceProblem.UNDECODABLE, ReferenceProblem.TOO_SHORT}


def test_video_only_container() -> None:
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="matroska") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(50):
            pixels = np.full((48, 64, 3), i * 5, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    err = _problem(buf.getvalue())
    assert err.problem is ReferenceProblem.NO_AUDIO and "no audio stream" in str(err)


def test_bad_limits_are_a_programming_error() -> None:
    with pytest.raises(ValueError, match="bad limits"):
        decode_reference_audio(b"x", min_seconds=5, max_seconds=1)


def test_reference_audio_validates() -> None:
    with pytest.raises(ValueError):
        ReferenceAudio(samples=np.zeros(10, dtype=np.float64), sample_rate=TARGET)
    ref = ReferenceAudio(samples=np.zeros(12_000, dtype=np.float32), sample_rate=TARGET)
    assert ref.duration_s == 0.5
