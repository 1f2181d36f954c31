"""The codec encoders (flac, ogg, opus, mp3, aac), each checked by decoders that are not ours."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile
import soxr

from realtime.audio.av_encoders import OPUS_SAMPLE_RATES, AvEncoder
from realtime.audio.encoders import create_encoder, encode_audio
from realtime.audio.resample import OUTPUT_SAMPLE_RATES
from realtime.audio.sinks import AppendOnlySink
from realtime.audio.vorbis import VorbisEncoder
from tests.support.codecs import (
    CODEC_FORMATS,
    adts_frames,
    allowed_extra_samples,
    check_structure,
    correlation_after_delay,
    decode,
    decode_at,
    decode_vorbis_with_libsndfile,
    mp3_frame_samples,
    mp3_frames,
    ogg_pages,
)

LOSSY_MIN_CORRELATION = 0.95  # speech-like test signal; measured 0.98-0.999 across formats and rates


def speechlike(seconds: float, rate: int, seed: int = 0) -> np.ndarray:
    """Voiced bursts with a moving pitch and a little noise: codecs treat it like speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * t), 0, None) ** 0.5
    return (0.3 * voiced * envelope + 0.01 * rng.standard_normal(t.size)).astype(np.float32)


def odd_chunks(x: np.ndarray, seed: int = 1) -> list[np.ndarray]:
    """Single samples, empty chunks, odd sizes and one huge piece, in an arbitrary order."""
    rng = np.random.default_rng(seed)
    sizes = [1, 0, 1, 7, 0, 333, 1, 4801, 2, 0, 999]
    cuts, at = [], 0
    for size in sizes:
        at += size
        cuts.append(at)
    cuts += sorted(int(c) for c in rng.integers(at, x.size, size=12))
    return [*np.split(x, cuts), x[:0]]


def stream(fmt: str, rate: int, chunks: list[np.ndarray]) -> tuple[bytes, list[bytes]]:
    encoder = create_encoder(fmt, rate)
    pieces = [encoder.feed(chunk) for chunk in chunks]
    pieces.append(encoder.close())
    return b"".join(pieces), pieces


def check_length(data: bytes, fmt: str, rate: int, expected: int) -> None:
    """Exact for flac/Vorbis/Opus (the container carries the length); priming plus a padded frame for mp3/aac."""
    decoded, decoded_rate = decode(data, fmt)
    if fmt == "opus":  # decoded at 48 kHz; the stream was resampled from `rate` when Opus does not take it
        assert decoded_rate == 48000
        assert abs(decoded.size / 48000 - expected / rate) <= 1 / rate + 1 / 48000
        return
    assert decoded_rate == rate
    if fmt == "ogg":
        assert decode_vorbis_with_libsndfile(data)[0].size == expected
    extra = decoded.size - expected
    assert 0 <= extra <= allowed_extra_samples(fmt, rate), (fmt, rate, extra)


@pytest.mark.parametrize("rate", OUTPUT_SAMPLE_RATES)
@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_any_chunking_gives_one_stream_of_the_right_length_that_sounds_like_the_input(fmt: str, rate: int) -> None:
    x = speechlike(1.3, rate)
    data, _ = stream(fmt, rate, odd_chunks(x))
    check_structure(data, fmt, rate)
    check_length(data, fmt, rate, x.size)
    comparable = decode_at(data, fmt, rate)
    if fmt == "flac":  # lossless: the pcm stream's samples, exactly
        np.testing.assert_array_equal(np.rint(comparable * 32768).astype(np.int16), np.rint(x * 32767).astype(np.int16))
    else:
        score = correlation_after_delay(x, comparable, allowed_extra_samples(fmt, rate) + 64)
        assert score >= LOSSY_MIN_CORRELATION, (fmt, rate, score)


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_a_huge_chunk_at_once(fmt: str) -> None:
    """Ten seconds in one feed: nothing is cut, nothing repeated."""
    rate = 16000
    x = speechlike(10.0, rate, seed=2)
    data, pieces = stream(fmt, rate, [x])
    check_structure(data, fmt, rate)
    check_length(data, fmt, rate, x.size)
    assert len(pieces[0]) > len(pieces[1])  # most of it leaves with the feed, not at close


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_the_correlation_check_fails_on_other_audio(fmt: str) -> None:
    """The similarity check above can fail: the same stream against another signal scores low."""
    rate = 24000
    data, _ = stream(fmt, rate, [speechlike(1.0, rate)])
    other = speechlike(1.0, rate, seed=5)[::-1].copy()
    assert correlation_after_delay(other, decode_at(data, fmt, rate), allowed_extra_samples(fmt, rate) + 64) < 0.5


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_the_header_goes_out_with_the_first_chunk_and_never_again(fmt: str) -> None:
    rate = 24000
    x = speechlike(1.0, rate)
    _, pieces = stream(fmt, rate, [x[:2400], *np.split(x[2400:], 8)])
    markers = {"flac": b"fLaC", "ogg": b"\x01vorbis", "opus": b"OpusHead"}
    if fmt in markers:
        assert markers[fmt] in pieces[0]
        assert sum(piece.count(markers[fmt]) for piece in pieces) == 1
    if fmt in ("ogg", "opus"):
        # Every piece is whole Ogg pages: a client can hand each message to a decoder as it comes.
        for piece in pieces:
            ogg_pages(piece)
        assert [bool(page["flags"] & 2) for piece in pieces for page in ogg_pages(piece)].count(True) == 1


@pytest.mark.parametrize("fmt", ["flac", "opus"])
@pytest.mark.parametrize("rate", OUTPUT_SAMPLE_RATES)
def test_low_latency_formats_return_audio_for_the_first_short_chunk(fmt: str, rate: int) -> None:
    """A 60 ms first chunk (what a resampled 100 ms engine chunk can shrink to) already decodes."""
    encoder = create_encoder(fmt, rate)
    first = encoder.feed(speechlike(0.06, rate))
    decoded, _ = decode(first, fmt)
    assert decoded.size > 0, (fmt, rate)


@pytest.mark.parametrize("fmt", ["mp3", "aac"])
@pytest.mark.parametrize("rate", OUTPUT_SAMPLE_RATES)
def test_mp3_and_aac_hold_back_only_their_codec_delay(fmt: str, rate: int) -> None:
    """After 60 ms then 200 ms of input, whole frames cover all but the codec's delay.

    LAME holds up to three frames (its 576-sample priming, the MDCT lookahead, the frame being
    filled); FFmpeg's AAC holds up to two (its 1024-sample priming and the frame being filled).
    """
    encoder = create_encoder(fmt, rate)
    fed = speechlike(0.26, rate)
    split = int(0.06 * rate)
    data = encoder.feed(fed[:split]) + encoder.feed(fed[split:])
    if fmt == "mp3":
        frame, held_frames, emitted = mp3_frame_samples(rate), 3, len(mp3_frames(data))
    else:
        frame, held_frames, emitted = 1024, 2, len(adts_frames(data))
    assert emitted > 0
    assert fed.size - emitted * frame <= held_frames * frame, (fmt, rate, emitted)


@pytest.mark.parametrize("fmt", ["flac", "mp3", "aac"])
def test_the_same_audio_gives_the_same_bytes_however_it_is_chunked(fmt: str) -> None:
    rate = 22050
    x = speechlike(1.1, rate)
    whole, _ = stream(fmt, rate, [x])
    assert stream(fmt, rate, odd_chunks(x, seed=3))[0] == whole
    assert encode_audio(x, rate, fmt) == whole  # whole buffers go through the same encoder


@pytest.mark.parametrize("fmt", ["ogg", "opus"])
def test_ogg_formats_decode_the_same_however_they_are_chunked(fmt: str) -> None:
    """Ogg streams carry a random serial number, so compare what they decode to."""
    rate = 16000
    x = speechlike(1.1, rate)
    whole, _ = decode(stream(fmt, rate, [x])[0], fmt)
    chunked, _ = decode(stream(fmt, rate, odd_chunks(x, seed=4))[0], fmt)
    buffered, _ = decode(encode_audio(x, rate, fmt), fmt)
    if fmt == "opus":  # libopus sees the same 20 ms frames whatever the chunking
        np.testing.assert_array_equal(chunked, whole)
        np.testing.assert_array_equal(buffered, whole)
    else:  # libvorbis's analysis depends slightly on how libsndfile hands it the samples
        for other in (chunked, buffered):
            assert other.size == whole.size and float(np.abs(other - whole).max()) < 0.02


def test_vorbis_decodes_with_libsndfile_too() -> None:
    rate = 44100
    x = speechlike(0.8, rate)
    data, _ = stream("ogg", rate, odd_chunks(x))
    decoded, decoded_rate = decode_vorbis_with_libsndfile(data)
    assert decoded_rate == rate and decoded.size == x.size
    assert correlation_after_delay(x, decoded.astype(np.float32), 64) >= LOSSY_MIN_CORRELATION


@pytest.mark.parametrize("rate", [22050, 44100])
def test_opus_resamples_rates_it_does_not_take_and_keeps_the_duration(rate: int) -> None:
    encoder = create_encoder("opus", rate)
    assert isinstance(encoder, AvEncoder)
    assert rate not in OPUS_SAMPLE_RATES and encoder.codec_rate == min(r for r in OPUS_SAMPLE_RATES if r > rate)
    x = speechlike(1.0, rate)
    data, _ = stream("opus", rate, odd_chunks(x))
    check_length(data, "opus", rate, x.size)
    decoded, _ = decode(data, "opus")
    reference = soxr.resample(x, rate, 48000).astype(np.float32)
    assert correlation_after_delay(reference, decoded, 64) >= LOSSY_MIN_CORRELATION


@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_opus_runs_at_the_requested_rate_when_it_can(rate: int) -> None:
    encoder = create_encoder("opus", rate)
    assert isinstance(encoder, AvEncoder) and encoder.codec_rate == rate


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_a_stream_closed_before_any_audio_is_valid_and_empty(fmt: str) -> None:
    data = create_encoder(fmt, 24000).close()
    if fmt == "flac":
        check_structure(data, fmt, 24000)
        assert decode(data, fmt)[0].size == 0
    elif fmt == "ogg":
        check_structure(data, fmt, 24000)
        assert soundfile.info(io.BytesIO(data)).frames == 0
    elif fmt == "opus":
        # OpusHead and OpusTags pages only: FFmpeg's Ogg muxer writes no end page without audio.
        pages = ogg_pages(data)
        assert [page["flags"] for page in pages] == [2, 0] and data[28:36] == b"OpusHead"
    else:
        assert data == b""  # bare frames, and no frame to send


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_an_empty_first_feed_returns_just_the_header(fmt: str) -> None:
    encoder = create_encoder(fmt, 16000)
    first = encoder.feed(np.zeros(0, dtype=np.float32))
    # libsndfile writes the Vorbis headers with the first samples, and mp3/aac have no header.
    headers = {"flac": b"fLaC", "ogg": b"", "opus": b"OggS", "mp3": b"", "aac": b""}
    assert first.startswith(headers[fmt]) and bool(first) == bool(headers[fmt])
    assert encoder.feed(np.zeros(0, dtype=np.float32)) == b""


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_codec_encoders_block_and_framing_encoders_do_not(fmt: str) -> None:
    """The session encodes codecs off the event loop and pcm/wav inline, by this flag."""
    assert create_encoder(fmt, 24000).blocking
    assert not create_encoder("pcm", 24000).blocking and not create_encoder("wav", 24000).blocking


def test_clipping_and_nan_do_not_break_a_codec_stream() -> None:
    x = speechlike(0.5, 24000) * 8
    x[100:200] = np.nan
    for fmt in CODEC_FORMATS:
        data, _ = stream(fmt, 24000, [x])
        check_structure(data, fmt, 24000)
        decoded, _ = decode(data, fmt)
        assert np.isfinite(decoded).all() and decoded.size > 0


def test_vorbis_encoder_is_the_ogg_format() -> None:
    assert isinstance(create_encoder("ogg", 24000), VorbisEncoder)


def test_append_only_sink_refuses_to_move_back() -> None:
    sink = AppendOnlySink()
    sink.write(b"abc")
    assert sink.tell() == 3 and sink.seek(0, 2) == 3 and sink.seek(3) == 3 and sink.seek(0, 1) == 3
    with pytest.raises(OSError, match="cannot seek back"):
        sink.seek(0)
    with pytest.raises(OSError):
        sink.read()
    assert sink.take() == b"abc" and sink.take() == b""
