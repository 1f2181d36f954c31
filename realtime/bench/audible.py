"""Benchmark section 6: the first audible sample, beside the first byte, over the socket and HTTP.

A voice agent's user hears nothing until the first sample above -50 dBFS plays, however
early the first bytes came. Per line (pcm at the engine's rate, the bench seed):

- first byte: from sending the line (socket: `text` + `flush` on a ready session; HTTP:
  the POST) to the first audio bytes;
- audible at: the audio time of the first sample over -50 dBFS (the leading silence left);
- heard: when a player that starts at the first byte plays that sample: the later of its
  arrival and first byte + its audio time;
- heard - first byte: the pause the listener gets after playback starts (target: 40 ms).

Beside them, the engine's own leading silence (before the server cuts it to the lead-in).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from realtime.audio.lead_in import AUDIBLE_DBFS, AUDIBLE_LEVEL
from realtime.client import RealtimeClient

HEARD_TARGET_MS = 40.0
OpenSession = Callable[[str, dict[str, Any]], Awaitable[RealtimeClient]]


@dataclass(frozen=True, slots=True)
class AudibleTiming:
    """One line's figures, in ms from sending it (audible_at_ms: audio time)."""

    first_byte_ms: float
    audible_arrival_ms: float
    audible_at_ms: float

    @property
    def heard_ms(self) -> float:
        return max(self.audible_arrival_ms, self.first_byte_ms + self.audible_at_ms)

    @property
    def heard_after_first_byte_ms(self) -> float:
        return self.heard_ms - self.first_byte_ms


class AudibleTracker:
    """Fed s16le bytes as they arrive (split anywhere), notes the first byte and the first audible sample. Pure."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._carry = b""
        self._samples = 0
        self.first_byte_ms: float | None = None
        self.audible_arrival_ms: float | None = None
        self.audible_at_ms: float | None = None

    def feed(self, data: bytes, at_ms: float) -> None:
        if not data:
            return
        if self.first_byte_ms is None:
            self.first_byte_ms = at_ms
        if self.audible_at_ms is not None:
            return
        data = self._carry + data
        whole = len(data) - len(data) % 2
        self._carry = data[whole:]
        samples = np.frombuffer(data[:whole], dtype="<i2").astype(np.float32) / 32768.0
        loud = np.flatnonzero(np.abs(samples) > AUDIBLE_LEVEL)
        if len(loud):
            self.audible_arrival_ms = at_ms
            self.audible_at_ms = (self._samples + int(loud[0])) * 1000.0 / self.sample_rate
        self._samples += len(samples)

    def timing(self) -> AudibleTiming | None:
        if self.first_byte_ms is None or self.audible_arrival_ms is None or self.audible_at_ms is None:
            return None
        return AudibleTiming(self.first_byte_ms, self.audible_arrival_ms, self.audible_at_ms)


async def socket_line(client: RealtimeClient, text: str, sample_rate: int, timeout: float) -> AudibleTiming | None:
    """text + flush on a ready pcm session; reads to `flushed`."""
    tracker = AudibleTracker(sample_rate)
    deadline = time.monotonic() + timeout
    started = time.perf_counter()
    await client.text(text)
    await client.flush()
    while True:
        message = await asyncio.wait_for(client.recv(), max(0.0, deadline - time.monotonic()))
        kind = message.get("type")
        if kind == "audio":
            tracker.feed(message.get("data") or b"", (time.perf_counter() - started) * 1000.0)
        elif kind == "error" and message.get("fatal"):
            return None
        elif kind in ("flushed", "done"):
            return tracker.timing()


def http_line(http_url: str, text: str, seed: int, sample_rate: int, timeout: float) -> AudibleTiming | None:
    """One POST /v1/audio/speech (pcm), read as it streams (blocking: run it in a thread)."""
    parts = urlsplit(http_url)
    body = json.dumps({"model": "tts-1", "voice": "alloy", "input": text, "response_format": "pcm",
                       "seed": seed, "sample_rate": sample_rate})
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=timeout)
    tracker = AudibleTracker(sample_rate)
    try:
        started = time.perf_counter()
        connection.request("POST", "/v1/audio/speech", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            response.read()
            return None
        while piece := response.read1(65536):
            tracker.feed(piece, (time.perf_counter() - started) * 1000.0)
    finally:
        connection.close()
    return tracker.timing()


async def audible_figures(
    url: str, session_fields: dict[str, Any], text: str, seed: int, sample_rate: int, runs: int,
    open_session: OpenSession, timeout: float,
) -> dict[str, list[AudibleTiming]]:
    """`runs` lines over each transport, alternating socket and HTTP (one untimed warm-up each)."""
    fields = {**session_fields, "format": "pcm", "sample_rate": sample_rate}
    http_url = url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
    results: dict[str, list[AudibleTiming]] = {"socket": [], "http": []}
    for run in range(runs + 1):
        client = await open_session(url, fields)
        try:
            socket_timing = await socket_line(client, text, sample_rate, timeout)
        finally:
            await client.close()
        http_timing = await asyncio.to_thread(http_line, http_url, text, seed, sample_rate, timeout)
        if run == 0:
            continue
        for transport, timing in (("socket", socket_timing), ("http", http_timing)):
            if timing is not None:
                results[transport].append(timing)
    return results


def engine_leading_silence_ms(audio: np.ndarray, sample_rate: int) -> float | None:
    """Where the engine's own audio first gets audible (before any trimming)."""
    loud = np.flatnonzero(np.abs(audio) > AUDIBLE_LEVEL)
    return float(loud[0]) * 1000.0 / sample_rate if len(loud) else None


def describe_threshold() -> str:
    return f"{AUDIBLE_DBFS:.0f} dBFS"
