"""flac, opus (Ogg), mp3 and aac (ADTS) through PyAV's bundled FFmpeg, one container per stream.

Each encoder owns one FFmpeg muxer writing into a non-seekable in-memory sink: the
header goes out with the first bytes, every packet the codec finishes is muxed and
handed back at once, and `close()` drains the codec, then the muxer (in that order,
or the tail is lost). A non-seekable sink also keeps the muxers from writing anything
that would have to be patched later (mp3's Xing frame, flac's final STREAMINFO).

Latency is what the codec holds back, never the container: Ogg pages are cut at every
packet (`page_duration`), flac uses short blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np

from .encoder_base import StreamEncoder
from .samples import clean_float, float_to_s16le
from .sinks import ByteSink

OPUS_SAMPLE_RATES: tuple[int, ...] = (8000, 12000, 16000, 24000, 48000)
FLAC_BLOCK_MS = 20  # one flac frame holds at most this much audio back


def _by_rate(low: int, mid: int, high: int) -> Callable[[int], int]:
    """A bit rate for narrow (< 16 kHz), wide (< 32 kHz) and full-band mono speech."""
    return lambda rate: low if rate < 16000 else mid if rate < 32000 else high


def _next_supported(rates: tuple[int, ...]) -> Callable[[int], int]:
    """The lowest rate the codec takes that is at least the requested one (or its highest)."""

    def choose(rate: int) -> int:
        return next((r for r in rates if r >= rate), rates[-1])

    return choose


@dataclass(frozen=True, slots=True)
class CodecProfile:
    """How one protocol format maps onto an FFmpeg muxer and encoder."""

    format: str
    container: str
    codec: str
    container_options: dict[str, str] = field(default_factory=dict)
    codec_options: dict[str, str] = field(default_factory=dict)
    bit_rate: Callable[[int], int] | None = None
    # The rate the codec runs at for a requested rate; audio is resampled to it when they differ.
    codec_rate: Callable[[int], int] = lambda rate: rate
    # Frame length in ms for codecs that let us choose it (None: the codec's own).
    frame_ms: int | None = None
    # "s16": we quantize exactly as pcm does (lossless flac then equals the pcm stream sample
    # for sample); "flt": the codec takes the floats (NaN zeroed, clipped to [-1, 1] as for pcm).
    sample_format: str = "flt"


PROFILES: dict[str, CodecProfile] = {
    profile.format: profile
    for profile in (
        CodecProfile(
            "flac",
            container="flac",
            codec="flac",
            # No 8 KiB padding block: nothing will ever come back to fill it in.
            container_options={"metadata_header_padding": "0"},
            frame_ms=FLAC_BLOCK_MS,
            sample_format="s16",
        ),
        CodecProfile(
            "opus",
            container="ogg",
            codec="libopus",
            # A page per packet: the muxer otherwise holds up to a second of audio.
            container_options={"page_duration": "1"},
            bit_rate=_by_rate(24000, 32000, 48000),
            codec_rate=_next_supported(OPUS_SAMPLE_RATES),
        ),
        CodecProfile(
            "mp3",
            container="mp3",
            codec="libmp3lame",
            # Bare MPEG frames: no ID3 tag naming our FFmpeg build, no Xing frame to patch later.
            container_options={"id3v2_version": "0", "write_xing": "0"},
            # No bit reservoir: LAME then never holds a finished frame back to lend it bits,
            # which halves the hold-back at 8 and 16 kHz (measured: 240 -> 160 ms, 160 -> 80 ms).
            codec_options={"reservoir": "0"},
            bit_rate=_by_rate(32000, 48000, 64000),
        ),
        CodecProfile(
            "aac",
            container="adts",
            codec="aac",
            bit_rate=_by_rate(24000, 48000, 64000),
        ),
    )
}


class AvEncoder(StreamEncoder):
    """One FFmpeg encoder and muxer for one stream, opened on first use (so creating it is cheap)."""

    def __init__(self, profile: CodecProfile, sample_rate: int) -> None:
        super().__init__(sample_rate)
        self.format = profile.format
        self._profile = profile
        self.codec_rate = profile.codec_rate(sample_rate)
        self._sink = ByteSink()
        self._container: av.container.OutputContainer | None = None
        self._stream: av.audio.stream.AudioStream | None = None
        self._time_base = Fraction(1, sample_rate)
        self._pts = 0

    def _open(self) -> tuple[av.container.OutputContainer, av.audio.stream.AudioStream]:
        if self._container is None or self._stream is None:
            profile = self._profile
            container = av.open(self._sink, mode="w", format=profile.container, options=profile.container_options)
            options = dict(profile.codec_options)
            if profile.frame_ms is not None:  # a generic AVCodecContext option; PyAV's attribute is read-only
                options["frame_size"] = str(max(16, self.codec_rate * profile.frame_ms // 1000))
            stream = container.add_stream(profile.codec, rate=self.codec_rate, options=options)
            if not isinstance(stream, av.audio.stream.AudioStream):
                raise TypeError(f"{profile.codec} is not an audio codec")
            stream.codec_context.layout = "mono"
            if profile.bit_rate is not None:
                stream.codec_context.bit_rate = profile.bit_rate(self.sample_rate)
            container.start_encoding()  # the header leaves with the first chunk
            self._container, self._stream = container, stream
        return self._container, self._stream

    def _encode(self, samples: np.ndarray) -> bytes:
        container, stream = self._open()
        if samples.size:
            container.mux(stream.encode(self._frame(samples)))
        return self._sink.take()

    def _frame(self, samples: np.ndarray) -> av.AudioFrame:
        if self._profile.sample_format == "s16":
            planes = np.frombuffer(float_to_s16le(samples), dtype="<i2").reshape(1, -1)
        else:
            planes = np.ascontiguousarray(clean_float(samples)).reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(planes, format=self._profile.sample_format, layout="mono")
        # At the stream's own rate: when the codec runs at another (Opus), PyAV's encode path
        # resamples with libswresample, which holds back much less than soxr HQ (about 30 ms here).
        frame.sample_rate = self.sample_rate
        frame.time_base = self._time_base
        frame.pts = self._pts
        self._pts += samples.size
        return frame

    def _finish(self) -> bytes:
        container, stream = self._open()
        container.mux(stream.encode(None))  # the resampler's and codec's buffered samples, the delay line
        container.close()  # then the muxer's last page / frame
        return self._sink.take()


def av_encoder_factory(format: str) -> Callable[[int, int | None], StreamEncoder]:
    """A registry factory; container sizes are never written up front, so the length hint is unused."""
    profile = PROFILES[format]
    return lambda rate, _length: AvEncoder(profile, rate)
