"""Test helpers for saved voices: reference audio as the API takes it, and a few HTTP calls."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import soundfile

from realtime.server.run import BackgroundServer
from tests.support.http_checks import HTTP
from tests.support.qwen_models import reference_audio

FRAMES = 5
GENERATION = {"max_new_tokens": FRAMES + 1}  # random weights rarely say EOS: bound every segment
DESIGN = {"instruct": "a deep, calm voice", "text": "Hello there my friend.", "seed": 3}


def wav_bytes(seconds: float = 1.5) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, reference_audio(seconds), 24000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def wav_base64(seconds: float = 1.5) -> str:
    return base64.b64encode(wav_bytes(seconds)).decode()


def auth(key: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"} if key else {}


def voices_call(server: BackgroundServer, method: str, path: str = "", key: str | None = None,
                headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    return HTTP.request(method, server.http_url + "/v1/voices" + path, headers={**auth(key), **(headers or {})},
                         timeout=240, **kwargs)


def create(server: BackgroundServer, body: dict[str, Any], key: str | None = None, status: int = 201) -> dict[str, Any]:
    """POST /v1/voices, expecting `status`; the JSON answer."""
    response = voices_call(server, "POST", json=body, key=key)
    assert response.status_code == status, response.text
    return response.json()


def clone_body(name: str = "Alice", **extra: Any) -> dict[str, Any]:
    return {"name": name, "ref_audio": wav_base64(), "ref_text": "A reference line.", **extra}


def speech(server: BackgroundServer, key: str | None = None, **body: Any) -> httpx.Response:
    fields = {"model": "tts-1", "input": "Hello there.", "response_format": "pcm", "seed": 11,
              "generation": GENERATION, **body}
    return HTTP.post(server.http_url + "/v1/audio/speech", json=fields, headers=auth(key), timeout=240)
