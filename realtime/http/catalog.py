"""`GET /v1/models`, `GET /v1/models/{model}` and `GET /v1/audio/voices`: what this server serves.

`/v1/models` is OpenAI's list shape (so `client.models.list()` works) with our fields
added: modes, speakers, languages, sample rate. `/v1/audio/voices` lists, per model,
its modes and speakers and what each OpenAI voice name means on it.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from realtime.backend.backend import TTSBackend
from realtime.engines.base import ModelInfo
from realtime.http.access import check_access
from realtime.http.errors import ApiError
from realtime.http.voices import voice_aliases

OWNER = "realtime-tts"


def model_entry(info: ModelInfo, default_for: list[str]) -> dict[str, Any]:
    return {
        "id": info.name,
        "object": "model",
        "created": 0,
        "owned_by": OWNER,
        "engine": info.engine,
        "modes": list(info.modes),
        "default_for": default_for,
        "speakers": list(info.speakers),
        "languages": list(info.languages),
        "accepts_instruct": info.accepts_instruct,
        "generation_settings": list(info.generation_settings),
        "sample_rate": info.sample_rate,
    }


def voices_entry(info: ModelInfo) -> dict[str, Any]:
    return {
        "model": info.name,
        "modes": list(info.modes),
        "speakers": list(info.speakers),
        "languages": list(info.languages),
        "accepts_instruct": info.accepts_instruct,
        "openai_voices": voice_aliases(info),
    }


def _defaults(backend: TTSBackend, info: ModelInfo) -> list[str]:
    return [mode for mode in info.modes if backend.default_model(mode) == info.name]


def _guarded(request: Request) -> TTSBackend:
    check_access(request.headers, request.app.state.access)
    return request.app.state.backend


async def list_models(request: Request) -> Response:
    backend = _guarded(request)
    data = [model_entry(info, _defaults(backend, info)) for info in backend.models()]
    return JSONResponse({"object": "list", "data": data})


async def get_model(request: Request) -> Response:
    backend = _guarded(request)
    name = request.path_params["model"]
    info = next((i for i in backend.models() if i.name == name), None)
    if info is None:
        served = ", ".join(i.name for i in backend.models())
        raise ApiError(404, f"unknown model {name!r}; this server serves: {served}", "model_not_found", "model")
    return JSONResponse(model_entry(info, _defaults(backend, info)))


async def list_voices(request: Request) -> Response:
    """Per model its speakers and OpenAI's names, plus the caller's saved voices (`saved_voices`)."""
    from realtime.http.saved_voices import saved_voice_entries

    backend = _guarded(request)
    return JSONResponse({
        "object": "list",
        "data": [voices_entry(info) for info in backend.models()],
        "saved_voices": await saved_voice_entries(request),
    })
