"""Encoders checked by real decoders reading what we produced."""

from __future__ import annotations

import io
import struct
import wave

import av
import numpy as np
import pytest
import soundfile as sf

from realtime.audio.encoders import (
    OUTPUT_FORMATS,
    PcmEncoder,
    UnsupportedFormatError,
    WavEncoder,
    available_formats,
    create_encoder,
    encode_audio,
)

RATE = 24000


def _signal(n: int = 12_345, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / RATE
    return (0.6 * np.sin(2 * np.pi * 220 * t) + 0.1 * rng.standard_normal(n)).astype(np.float32)


def _chunks(x: np.ndarray, seed: int = 1) -> list[np.ndarray]:
    """Arbitrary chunk sizes, including empty ones and single samples."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, x.size, size=40))
    return [*np.split(x, cuts), x[:0]]


def _stream(fmt: str, x: np.ndarray) -> bytes:
    enc = create_encoder(fmt, RATE)
    return b"".join(enc.feed(c) for c in _chunks(x)) + enc.close()


def _expected_s16(x: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(x, -1.0, 1.0) * 32767).astype(np.int16)


def test_formats() -> None:
    assert available_formats() == OUTPUT_FORMATS == ("pcm", "wav", "flac", "ogg", "opus", "mp3", "aac")
    assert isinstance(create_encoder("pcm", RATE), PcmEncoder)
    assert isinstance(create_encoder("wav", RATE), WavEncoder)
    enc = create_encoder("wav", 16000)
    assert (enc.format, enc.sample_rate) == ("wav", 16000)


def test_pcm_round_trip() -> None:
    x = _signal()
    data = _stream("pcm", x)
    decoded = np.frombuffer(data, dtype="<i2")
    np.testing.assert_array_equal(decoded, _expected_s16(x))
    assert np.abs(decoded / 32767 - x).max() <= 0.5 / 32767 + 1e-7
    assert encode_audio(x, RATE, "pcm") == data


def test_pcm_clips_and_rounds() -> None:
    x = np.array(
        [-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, np.nan, np.inf, -np.inf], dtype=np.float32
    )
    out = np.frombuffer(encode_audio(x, RATE, "pcm"), dtype="<i2")
    assert out.tolist() == [-32767, -32767, -16384, 0, 16384, 32767, 32767, 0, 32767, -32767]


def test_wav_stream_has_one_header_and_decodes_with_wave_soundfile_and_pyav() -> None:
    x = _signal()
    data = _stream("wav", x)
    pcm = np.frombuffer(_stream("pcm", x), dtype="<i2")

    assert data.count(b"RIFF") == 1 and data.count(b"WAVE") == 1 and data.startswith(b"RIFF")
    assert struct.unpack_from("<I", data, 4)[0] == 0xFFFFFFFF
    assert data[36:40] == b"data" and struct.unpack_from("<I", data, 40)[0] == 0xFFFFFFFF
    assert len(data) == 44 + 2 * x.size

    # stdlib wave reports a huge frame count for unknown sizes but reads exactly what is there.
    with wave.open(io.BytesIO(data)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, RATE)
        np.testing.assert_array_equal(np.frombuffer(w.readframes(10**9), dtype="<i2"), pcm)

    # libsndfile (1.2.x) accepts 0xFFFFFFFF sizes and uses the real length.
    decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert rate == RATE
    np.testing.assert_array_equal(decoded, pcm)

    with av.open(io.BytesIO(data)) as container:
        frames = [f.to_ndarray().reshape(-1) for f in container.decode(audio=0)]
    np.testing.assert_array_equal(np.concatenate(frames), pcm)


def test_wav_header_goes_out_with_first_bytes() -> None:
    enc = create_encoder("wav", RATE)
    first = enc.feed(np.zeros(3, dtype=np.float32))
    assert first.startswith(b"RIFF") and len(first) == 44 + 6
    assert enc.feed(np.zeros(2, dtype=np.float32)) == b"\x00" * 4
    assert enc.close() == b""


def test_wav_header_even_when_first_feed_is_empty() -> None:
    enc = create_encoder("wav", RATE)
    assert len(enc.feed(np.zeros(0, dtype=np.float32))) == 44
    assert enc.close() == b""


def test_wav_never_fed_yields_header_on_close() -> None:
    enc = create_encoder("wav", RATE)
    data = enc.close()
    assert len(data) == 44 and data.startswith(b"RIFF")
    decoded, rate = sf.read(io.BytesIO(data), dtype="int16")
    assert decoded.size == 0 and rate == RATE


def test_encode_audio_wav_is_a_proper_file() -> None:
    x = _signal(9_999)
    data = encode_audio(x, RATE, "wav")
    assert data.count(b"RIFF") == 1
    assert struct.unpack_from("<I", data, 4)[0] == len(data) - 8
    assert struct.unpack_from("<I", data, 40)[0] == 2 * x.size
    info = sf.info(io.BytesIO(data))
    assert (info.frames, info.samplerate, info.channels) == (x.size, RATE, 1)
    assert info.subtype == "PCM_16"
    decoded, _ = sf.read(io.BytesIO(data), dtype="int16")
    np.testing.assert_array_equal(decoded, _expected_s16(x))
    with wave.open(io.BytesIO(data)) as w:
        assert w.getnframes() == x.size


def test_encode_audio_empty_wav() -> None:
    data = encode_audio(np.zeros(0, dtype=np.float32), RATE, "wav")
    assert len(data) == 44 and struct.unpack_from("<I", data, 40)[0] == 0
    assert sf.info(io.BytesIO(data)).frames == 0


def test_wav_known_length_must_be_honoured() -> None:
    enc = WavEncoder(RATE, known_length=4)
    enc.feed(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="promised 4 frames"):
        enc.feed(np.zeros(2, dtype=np.float32))
    short = WavEncoder(RATE, known_length=4)
    short.feed(np.zeros(3, dtype=np.float32))
    with pytest.raises(ValueError, match="promised 4 frames"):
        short.close()


@pytest.mark.parametrize("fmt", OUTPUT_FORMATS)
def test_closed_encoder_refuses_more(fmt: str) -> None:
    enc = create_encoder(fmt, RATE)
    enc.feed(_signal(10))
    enc.close()
    assert enc.closed
    with pytest.raises(RuntimeError, match="closed"):
        enc.close()
    with pytest.raises(RuntimeError, match="closed"):
        enc.feed(_signal(10))


@pytest.mark.parametrize("fmt", ["xyz", "WAV", ""])
def test_unknown_format(fmt: str) -> None:
    with pytest.raises(UnsupportedFormatError, match="unknown output format") as info:
        create_encoder(fmt, RATE)
    assert "available formats: pcm, wav, flac, ogg, opus, mp3, aac" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_float64_is_converted() -> None:
    x = _signal(100)
    assert encode_audio(x.astype(np.float64), RATE, "pcm") == encode_audio(x, RATE, "pcm")


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros(4, dtype=np.int16),
        np.zeros(4, dtype=np.complex64),
        np.zeros((4, 2), dtype=np.float32),
        np.float32(0.5),
    ],
)
def test_bad_input_rejected(bad: np.ndarray) -> None:
    enc = create_encoder("pcm", RATE)
    with pytest.raises(ValueError, match="samples must be"):
        enc.feed(bad)
    with pytest.raises(ValueError):
        encode_audio(bad, RATE, "wav")


def test_not_an_array_rejected() -> None:
    with pytest.raises(ValueError, match="numpy array"):
        create_encoder("pcm", RATE).feed([0.0, 0.1])  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [0, -8000, 24000.0, True])
def test_bad_sample_rate(rate: object) -> None:
    with pytest.raises(ValueError, match="sample_rate"):
        create_encoder("wav", rate)  # type: ignore[arg-type]
