"""Benchmark section 5: what each output format costs and how late its audio arrives.

- Encode cost: the engine's audio for the bench line, fed to each format's streaming
  encoder in the engine's chunk sizes (100 ms, then 200 ms), timed from the first feed to
  `close()`, per second of audio; plus the bit rate it produced.
- Over the socket, per format, from sending `text` + `flush`: the first `audio` message,
  the first message with bytes in it (a container header counts), and the first moment
  the bytes received so far decode to real audio (the codec's priming excluded). The
  last is what a listener waits for; it is computed after each line from the arrival
  times, so decoding never slows the timed client. With it, the audio the engine had to
  make before that moment: the format's hold-back in audio time (a fast engine hides it
  in wall time; a real-time one would not).
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast

import av
import numpy as np
import soxr

from realtime.audio.encoders import create_encoder
from realtime.backend.backend import TTSBackend
from realtime.client import RealtimeClient
from realtime.engines.voice_spec import VoiceSpec

FIRST_CHUNK_S = 0.1  # the engine's first piece, then PIECE_S pieces
PIECE_S = 0.2
ENCODE_REPEATS = 5
# What mp3/aac decoders put before the first real sample (no LAME tag / ADTS has no edit list):
# LAME's encoder delay plus the decoder's, and AAC's one priming frame. Ogg carries its pre-skip.
_PRIMING_SAMPLES = {"mp3": 576 + 529, "aac": 1024}
_RAW_DECODERS = {"mp3": "mp3float", "aac": "aac"}
_DEMUXERS = {"flac": "flac", "ogg": "ogg", "opus": "ogg", "wav": "wav"}

OpenSession = Callable[[str, dict[str, Any]], Awaitable[RealtimeClient]]


# -- decoding what arrived -----------------------------------------------------------------------
def audible_ms(data: bytes, fmt: str, sample_rate: int) -> float:
    """Milliseconds of real audio (priming excluded) that `data`, a stream's first bytes, decodes to."""
    if fmt == "pcm":
        return len(data) // 2 * 1000.0 / sample_rate
    if not data:
        return 0.0
    samples, rate = 0, 0
    try:
        if fmt in _RAW_DECODERS:  # bare frames: FFmpeg's parser splits them, no demuxer probing
            codec = cast(av.audio.codeccontext.AudioCodecContext, av.CodecContext.create(_RAW_DECODERS[fmt], "r"))
            for packet in [*codec.parse(data), *codec.parse(None)]:
                for frame in codec.decode(packet):
                    samples, rate = samples + frame.samples, frame.sample_rate
            samples = max(0, samples - _PRIMING_SAMPLES[fmt])
        else:
            with av.open(io.BytesIO(data), mode="r", format=_DEMUXERS[fmt]) as container:
                for frame in container.decode(audio=0):
                    samples, rate = samples + frame.samples, frame.sample_rate
    except (av.error.FFmpegError, ValueError):  # too little arrived yet to decode anything
        pass
    return samples * 1000.0 / rate if rate else 0.0


# -- encode cost ---------------------------------------------------------------------------------
async def engine_audio(backend: TTSBackend, text: str, seed: int) -> np.ndarray:
    """The whole line as the engine speaks it (engine rate), to feed the encoders."""
    request, errors = await backend.bind_voice(VoiceSpec(seed=seed), seed)
    if request is None:
        raise RuntimeError("; ".join(e.describe() for e in errors))
    voice = await backend.open_voice(request)
    try:
        pieces = [chunk.samples async for chunk in backend.stream(voice, text)]
    finally:
        voice.close()
    return np.concatenate(pieces).astype(np.float32) if pieces else np.zeros(0, dtype=np.float32)


def engine_pieces(audio: np.ndarray, sample_rate: int) -> list[np.ndarray]:
    first = int(FIRST_CHUNK_S * sample_rate)
    step = int(PIECE_S * sample_rate)
    cuts = list(range(first, audio.size, step))
    return [piece for piece in np.split(audio, cuts) if piece.size]


def encode_cost(formats: Sequence[str], audio: np.ndarray, engine_rate: int, sample_rate: int) -> list[dict[str, Any]]:
    """Per format: ms of encoding per second of audio (median of a few runs), kbps, first-chunk bytes."""
    if sample_rate != engine_rate:
        audio = soxr.resample(audio, engine_rate, sample_rate).astype(np.float32)
    pieces = engine_pieces(audio, sample_rate)
    seconds = audio.size / sample_rate
    rows = []
    for fmt in formats:
        times: list[float] = []
        size = first_bytes = 0
        for _ in range(ENCODE_REPEATS):
            encoder = create_encoder(fmt, sample_rate)
            started = time.perf_counter()
            out = [encoder.feed(piece) for piece in pieces]
            out.append(encoder.close())
            times.append(time.perf_counter() - started)
            size, first_bytes = sum(len(part) for part in out), len(out[0])
        rows.append({
            "format": fmt,
            "audio_s": round(seconds, 3),
            "encode_ms_per_audio_s": round(float(np.median(times)) * 1000.0 / seconds, 3),
            "encode_ms_per_audio_s_min": round(min(times) * 1000.0 / seconds, 3),
            "kbps": round(size * 8 / seconds / 1000.0, 1),
            "first_chunk_bytes": first_bytes,
        })
    return rows


# -- over the socket -----------------------------------------------------------------------------
async def _timed_line(client: RealtimeClient, text: str, timeout: float) -> list[tuple[float, dict[str, Any]]]:
    """Send text + flush; every audio message with its arrival time in ms, until `flushed`."""
    arrivals: list[tuple[float, dict[str, Any]]] = []
    started = time.perf_counter()
    await client.text(text)
    await client.flush()
    deadline = time.monotonic() + timeout
    while True:
        message = await asyncio.wait_for(client.recv(), max(0.0, deadline - time.monotonic()))
        kind = message.get("type")
        if kind == "audio":
            arrivals.append(((time.perf_counter() - started) * 1000.0, message))
        elif kind == "error":
            raise RuntimeError(f"{message.get('code')} {message.get('name')}: {message.get('message')}")
        elif kind in ("flushed", "done"):
            return arrivals


def _line_figures(arrivals: list[tuple[float, dict[str, Any]]], fmt: str, sample_rate: int) -> dict[str, float | None]:
    first_audio = arrivals[0][0] if arrivals else None
    first_byte = next((at for at, message in arrivals if message["data"]), None)
    received = b""
    first_audible = audio_before_audible = None
    for at, message in arrivals:
        if not message["data"]:
            continue
        received += message["data"]
        if audible_ms(received, fmt, sample_rate) > 0:
            first_audible = at
            audio_before_audible = float(message["timestamp_ms"]) + float(message["duration_ms"])
            break
    return {
        "first_audio": first_audio,
        "first_byte": first_byte,
        "first_audible": first_audible,
        # How much audio the engine had to make before anything was audible: the format's
        # hold-back in audio time, whatever the engine's speed (wall time hides it on a fast engine).
        "audio_before_audible": audio_before_audible,
    }


async def socket_latency(
    url: str, session_fields: dict[str, Any], fmt: str, text: str, runs: int, open_session: OpenSession,
    timeout: float,
) -> dict[str, list[float]]:
    """`runs` lines in fresh ready sessions of `fmt` (after one untimed warm-up line)."""
    fields = {**session_fields, "format": fmt}
    figures: dict[str, list[float]] = {"first_audio": [], "first_byte": [], "first_audible": [], "audio_before_audible": []}
    sample_rate = int(fields.get("sample_rate") or 24000)
    for index in range(runs + 1):
        client = await open_session(url, fields)
        try:
            arrivals = await _timed_line(client, text, timeout)
        finally:
            await client.close()
        if index == 0:
            continue
        for key, value in _line_figures(arrivals, fmt, sample_rate).items():
            if value is not None:
                figures[key].append(value)
    return figures
