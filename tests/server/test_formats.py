"""Every output format over a real server and socket, decoded by decoders that are not ours.

Per format and rate: the concatenated `audio.data` is one valid stream (framing walked
byte by byte), its decoded length matches the sum of `duration_ms` (exactly where the
container carries the length, within priming plus padding for mp3/aac), and it sounds
like the pcm stream of the same session.start with only the format changed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from realtime.bench.formats import audible_ms
from tests.conftest import run
from tests.server.test_cancel_and_disconnect import LONG_TEXT, check_cancelled_stream
from tests.support.codecs import (
    CODEC_FORMATS,
    allowed_extra_samples,
    check_structure,
    correlation_after_delay,
    decode,
    decode_at,
    decode_vorbis_with_libsndfile,
    mp3_frame_samples,
    ogg_pages,
)
from tests.support.stream_checks import check_timeline, pcm_samples, synthesize
from tests.wire import Wire, audio_of

TEXT = "Hello there, my friend. The weather is lovely today! Shall we take a walk along the river?"
SEED = 5
MIN_CORRELATION = 0.95  # measured 0.985-0.999 for the lossy formats; flac is compared sample for sample
CASES = [
    *((fmt, rate) for fmt in ("flac", "ogg", "mp3", "aac") for rate in (8000, 22050, 24000, 48000)),
    *(("opus", rate) for rate in (8000, 16000, 22050, 24000, 44100, 48000)),  # 22050, 44100: resampled
    ("wav", 16000),
    ("wav", 44100),
]

_pcm_cache: dict[int, list[dict[str, Any]]] = {}


async def pcm_reference(url: str, rate: int) -> list[dict[str, Any]]:
    """The pcm chunks of TEXT at `rate` (one synthesis per rate for the whole module)."""
    if rate not in _pcm_cache:
        _, messages = await synthesize(url, TEXT, seed=SEED, sample_rate=rate, format="pcm")
        _pcm_cache[rate] = audio_of(messages)
    return _pcm_cache[rate]


def as_float(pcm: bytes) -> np.ndarray:
    return pcm_samples(pcm).astype(np.float32) / 32767.0


def check_decoded_length(data: bytes, fmt: str, rate: int, expected_samples: float) -> None:
    decoded, decoded_rate = decode(data, fmt)
    if fmt == "opus":  # Ogg Opus always decodes at 48 kHz
        assert decoded_rate == 48000
        assert abs(decoded.size / 48000 - expected_samples / rate) <= 1 / rate + 1 / 48000
        return
    assert decoded_rate == rate
    if fmt == "ogg":
        assert decode_vorbis_with_libsndfile(data)[0].size == round(expected_samples)
    extra = decoded.size - expected_samples
    assert 0 <= extra <= allowed_extra_samples(fmt, rate), (fmt, rate, extra)


@pytest.mark.parametrize(("fmt", "rate"), CASES)
def test_each_format_is_one_stream_that_decodes_to_the_pcm_audio(server, fmt: str, rate: int) -> None:
    async def body() -> None:
        reference = await pcm_reference(server.url, rate)
        ready, messages = await synthesize(server.url, TEXT, seed=SEED, sample_rate=rate, format=fmt)
        assert (ready["format"], ready["sample_rate"]) == (fmt, rate)
        chunks = audio_of(messages)
        check_timeline(chunks, rate, format=fmt)
        # Same timeline as pcm: timestamps are in the session's rate, whatever the codec runs at.
        assert [c["duration_ms"] for c in chunks] == [c["duration_ms"] for c in reference]
        expected = sum(c["duration_ms"] for c in chunks) * rate / 1000.0
        # done counts every chunk sent, even one still being encoded when the context finished
        assert messages[-1]["audio_ms"] == pytest.approx(sum(c["duration_ms"] for c in chunks), abs=1e-6)
        pcm = as_float(b"".join(c["data"] for c in reference))
        assert abs(pcm.size - expected) < 1e-6

        data = b"".join(c["data"] for c in chunks)
        if fmt == "wav":
            assert data.count(b"RIFF") == 1
        else:
            check_structure(data, fmt, rate)
        assert chunks[-1]["data"], "the closing chunk carries the encoder's tail"
        check_decoded_length(data, fmt, rate, expected)

        decoded = decode_at(data, fmt, rate)
        if fmt in ("flac", "wav"):  # lossless: the pcm stream, sample for sample
            np.testing.assert_array_equal(np.rint(decoded * 32768).astype(np.int16), pcm_samples(b"".join(c["data"] for c in reference)))
        else:
            score = correlation_after_delay(pcm, decoded, allowed_extra_samples(fmt, rate) + 64)
            assert score >= MIN_CORRELATION, (fmt, rate, score)

    run(body())


@pytest.mark.parametrize("fmt", ["flac", "opus", "ogg"])
def test_the_container_header_leaves_with_the_first_audio_chunk(server, fmt: str) -> None:
    async def body() -> None:
        _, messages = await synthesize(server.url, TEXT, seed=SEED, format=fmt)
        chunks = audio_of(messages)
        first = chunks[0]["data"]
        if fmt == "flac":
            assert first.startswith(b"fLaC") and decode(first, "flac")[0].size > 0  # header and audio
        else:
            pages = ogg_pages(first)  # whole pages only
            assert pages[0]["flags"] & 2 and first[28:36] in (b"OpusHead", b"\x01vorbis\x00"[:8])
            if fmt == "opus":
                assert any(page["granule"] > 0 for page in pages), "opus audio in the first chunk"
        assert all(b"fLaC" not in c["data"] and b"OpusHead" not in c["data"] for c in chunks[1:])

    run(body())


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_cancel_mid_context_leaves_a_stream_that_decodes_to_what_was_sent(server, fmt: str) -> None:
    rate = 24000

    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=4, format=fmt, sample_rate=rate)
        await wire.send({"type": "text", "text": LONG_TEXT})
        before = await wire.until(lambda m: m["type"] == "audio" and m["seq"] >= 2)
        await wire.send({"type": "cancel"})
        messages = before + await wire.until_done()
        await wire.close()

        check_cancelled_stream(messages, "main", sample_rate=rate, format=fmt)
        chunks = audio_of(messages)
        # The closing chunk carries the encoder's tail: Ogg's end page, LAME's and AAC's delayed
        # frames. flac owes nothing when the audio sent so far ended on a block boundary.
        assert chunks[-1]["is_last"] and (chunks[-1]["data"] or fmt == "flac")
        data = b"".join(c["data"] for c in chunks)
        check_structure(data, fmt, rate)
        check_decoded_length(data, fmt, rate, sum(c["duration_ms"] for c in chunks) * rate / 1000.0)
        assert messages[-1]["audio_ms"] < 60_000  # it was cut short

    run(body())


@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_end_without_text_closes_an_empty_stream_of_the_format(server, fmt: str) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=2, format=fmt)
        await wire.send({"type": "end", "ctx": "quiet"})
        messages = await wire.until_done("quiet")
        await wire.close()
        [closing] = audio_of(messages, "quiet")
        assert closing["is_last"] and closing["duration_ms"] == 0
        data = closing["data"]
        if fmt in ("flac", "ogg"):
            check_structure(data, fmt, 24000)
        elif fmt == "opus":
            assert [page["flags"] for page in ogg_pages(data)] == [2, 0]  # OpusHead, OpusTags
        else:
            assert data == b""  # mp3 and ADTS are bare frames: no audio, no bytes

    run(body())


def _max_held_ms(fmt: str, rate: int) -> float:
    """What README's table promises a codec keeps back at a flush (in ms of audio)."""
    frames = {
        "flac": 0.020 * rate,  # under one 20 ms block
        "opus": 0.020 * rate + 0.0065 * rate + 0.01 * rate,  # one 20 ms frame, the pre-skip, resampler slack
        "mp3": 6 * mp3_frame_samples(rate),  # priming, lookahead, the frame being filled, the muxer's lag
        "aac": 3 * 1024,  # priming frame, lookahead frame, the frame being filled
        "ogg": 2.0 * rate,  # up to one Ogg page of about 4 KiB
    }[fmt]
    return frames * 1000.0 / rate


@pytest.mark.parametrize("rate", [8000, 24000])
@pytest.mark.parametrize("fmt", CODEC_FORMATS)
def test_at_flushed_all_but_the_codec_hold_back_is_audible_and_end_drains_it(server, fmt: str, rate: int) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=SEED, format=fmt, sample_rate=rate)
        await wire.send({"type": "text", "text": TEXT})
        await wire.send({"type": "flush"})
        flushed = audio_of(await wire.until(lambda m: m["type"] == "flushed"))
        await wire.send({"type": "end"})
        rest = audio_of(await wire.until_done())
        await wire.close()

        sent_ms = sum(c["duration_ms"] for c in flushed)
        at_flush = b"".join(c["data"] for c in flushed)
        held_ms = sent_ms - audible_ms(at_flush, fmt, rate)
        assert 0 <= held_ms <= _max_held_ms(fmt, rate), (fmt, rate, held_ms)
        # end drains the rest: nothing new was said, yet everything becomes audible
        assert [c["duration_ms"] for c in rest] == [0] and rest[0]["is_last"]
        drained = at_flush + rest[0]["data"]
        assert audible_ms(drained, fmt, rate) >= sent_ms - 1000.0 / rate

    run(body())

