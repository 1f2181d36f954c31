"""Test-only helpers for the HTTP API: an OpenAI SDK client, decoders, SSE parsing, metric scraping."""

from __future__ import annotations

import base64
import io
import json
from typing import Any

import av
import httpx
import numpy as np
from openai import OpenAI
from prometheus_client.parser import text_string_to_metric_families

from realtime.server.run import BackgroundServer
from tests.support.stream_checks import decode_wav

SPEECH = "/v1/audio/speech"

# The tests' plain requests share one client: each `HTTP.get(...)` builds a client, and with it
# an SSL context that parses the CA bundle (tens of ms, even for an http:// URL). No keep-alive:
# every request still opens its own connection, as those calls did. httpx's default timeout (5 s).
HTTP = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0))


def sdk(server: BackgroundServer, api_key: str = "unused") -> OpenAI:
    """The official OpenAI client, pointed at our server (no retries: each request is what the test sends)."""
    return OpenAI(base_url=server.http_url + "/v1", api_key=api_key, max_retries=0, timeout=60)


def post_speech(server: BackgroundServer, body: Any, **kwargs: Any) -> httpx.Response:
    """A raw request, for bodies the SDK would never send."""
    if isinstance(body, (bytes, str)):
        return HTTP.post(server.http_url + SPEECH, content=body, timeout=60, **kwargs)
    return HTTP.post(server.http_url + SPEECH, json=body, timeout=60, **kwargs)


def openai_error(response: httpx.Response) -> dict[str, Any]:
    """The `error` object of an OpenAI-shaped error response (fails the test when the shape is wrong)."""
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert {"message", "type", "param", "code"} <= set(error), error
    assert isinstance(error["message"], str) and error["message"], error
    return error


def decoded_samples(data: bytes, format: str, sample_rate: int = 24000) -> np.ndarray:
    """The stream decoded as a file by an independent decoder: stdlib/soundfile for wav, PyAV for the codecs."""
    if format == "pcm":
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    if format == "wav":
        samples, rate = decode_wav(data)
        assert rate == sample_rate
        return samples.astype(np.float32) / 32768.0
    pieces = []
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        assert stream.rate == sample_rate or format == "opus", (format, stream.rate)
        for frame in container.decode(stream):
            pieces.append(frame.to_ndarray().reshape(-1))  # mono: packed or planar, one row
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def decoded_seconds(data: bytes, format: str, sample_rate: int = 24000) -> float:
    if format == "opus":  # Ogg Opus always decodes at 48 kHz
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            return sum(frame.samples for frame in container.decode(stream)) / stream.rate
    return len(decoded_samples(data, format, sample_rate)) / sample_rate


def sse_events(body: bytes) -> list[dict[str, Any]]:
    """Server-sent events as a client parses them: `data:` lines, events separated by a blank line."""
    events = []
    for block in body.decode().split("\n\n"):
        lines = [line for line in block.split("\n") if line]
        if not lines:
            continue
        assert all(line.startswith("data: ") for line in lines), block
        events.append(json.loads("".join(line[len("data: "):] for line in lines)))
    return events


def sse_audio(events: list[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(e["audio"]) for e in events if e["type"] == "speech.audio.delta")


def scrape(server: BackgroundServer, metric: str, headers: dict[str, str] | None = None, **labels: str) -> float:
    """One sample of GET /metrics, parsed as Prometheus parses it (0 when absent)."""
    response = HTTP.get(server.http_url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0
