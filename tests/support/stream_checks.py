"""Assertions over one context's stream as a client sees it on the wire (test-only helpers)."""

from __future__ import annotations

import io
import socket
import wave
from typing import Any

import numpy as np

from tests.wire import Wire, audio_of

TILE_TOLERANCE_MS = 1e-6


def of_ctx(messages: list[dict[str, Any]], ctx: str) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("ctx") == ctx]


def types_of(messages: list[dict[str, Any]]) -> list[str]:
    return [m["type"] for m in messages]


def check_timeline(chunks: list[dict[str, Any]], sample_rate: int, format: str = "pcm") -> None:
    """One context's audio: seq 0,1,2.. gapless; timestamps tile from 0; one is_last, the last chunk."""
    assert chunks, "no audio"
    assert [c["seq"] for c in chunks] == list(range(len(chunks)))
    assert chunks[0]["timestamp_ms"] == 0
    for before, after in zip(chunks, chunks[1:]):
        assert abs(after["timestamp_ms"] - (before["timestamp_ms"] + before["duration_ms"])) <= TILE_TOLERANCE_MS, (
            before,
            after,
        )
    assert [c["is_last"] for c in chunks].count(True) == 1
    assert chunks[-1]["is_last"] is True
    if format == "pcm":
        for chunk in chunks:
            assert len(chunk["data"]) % 2 == 0
            expected = len(chunk["data"]) / 2 * 1000.0 / sample_rate
            assert abs(chunk["duration_ms"] - expected) <= TILE_TOLERANCE_MS, chunk


def pcm_samples(data: bytes) -> np.ndarray:
    return np.frombuffer(data, dtype="<i2")


def decode_wav(data: bytes) -> tuple[np.ndarray, int]:
    """The stream as a file, through both soundfile and the stdlib; they must agree."""
    import soundfile

    decoded, rate = soundfile.read(io.BytesIO(data), dtype="int16")
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnchannels() == 1 and reader.getsampwidth() == 2
        assert reader.getframerate() == rate
        frames = np.frombuffer(reader.readframes(2**31 - 1), dtype="<i2")
    assert np.array_equal(decoded, frames)
    return decoded, rate


def check_wav_stream(chunks: list[dict[str, Any]], sample_rate: int) -> np.ndarray:
    """The concatenated data is one RIFF/WAVE stream: one header, then samples only."""
    joined = b"".join(c["data"] for c in chunks)
    assert joined[:4] == b"RIFF" and joined[8:12] == b"WAVE"
    assert sum(1 for c in chunks if c["data"][:4] == b"RIFF") == 1
    samples, rate = decode_wav(joined)
    assert rate == sample_rate
    return samples


async def ping_fence(wire: Wire, token: int = 7) -> list[dict[str, Any]]:
    """Everything the server sends before answering a ping (messages still in flight)."""
    await wire.send({"type": "ping", "t": token})
    seen = await wire.until(lambda m: m.get("type") == "pong" and m.get("t") == token)
    return seen[:-1]


async def synthesize(url: str, text: str | list[str], ctx: str = "main", **start: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One session: session.start, the text (one message or several), end; returns (ready, messages to done)."""
    wire = await Wire.open(url)
    try:
        ready = await wire.start(**start)
        for piece in [text] if isinstance(text, str) else text:
            await wire.send({"type": "text", "ctx": ctx, "text": piece})
        await wire.send({"type": "end", "ctx": ctx})
        messages = await wire.until_done(ctx)
    finally:
        await wire.close()
    return ready, messages


def audio_bytes(messages: list[dict[str, Any]], ctx: str = "main") -> bytes:
    return b"".join(c["data"] for c in audio_of(messages, ctx))


def small_buffer_socket(port: int, size: int = 4096) -> socket.socket:
    """A connected client socket with a small receive buffer, so TCP hides little of a slow reader."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock
