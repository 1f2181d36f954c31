"""The HTTP API beside the socket: OpenAI-compatible speech, the catalogue, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.http.access import check_access
from realtime.http.catalog import get_model, list_models, list_voices
from realtime.http.errors import ApiError
from realtime.http.saved_voices import voice_item, voice_sample, voices_collection
from realtime.http.speech import create_speech


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text exposition; behind the API key when the server has one."""
    check_access(request.headers, request.app.state.access)
    metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=metrics.content_type)


Endpoint = Callable[[Request], Awaitable[Response]]
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _api(methods: tuple[str, ...], endpoint: Endpoint) -> Endpoint:
    """An API endpoint: an ApiError it raises is answered in OpenAI's shape and counted.

    The route takes every method and answers the wrong ones 405 itself: otherwise the
    static page mounted at / would claim them and answer 404.
    """
    allowed = (*methods, "HEAD") if "GET" in methods else methods

    async def endpoint_answering_errors(request: Request) -> Response:
        try:
            if request.method not in allowed:
                raise ApiError(
                    405,
                    f"{request.method} {request.url.path}: method not allowed; use {', '.join(methods)}",
                    "method_not_allowed",
                    headers={"Allow": ", ".join(allowed)},
                )
            return await endpoint(request)
        except ApiError as error:
            request.app.state.metrics.error("http", error.status, error.code)
            return error.response()

    return endpoint_answering_errors


def http_routes() -> list[Route]:
    return [
        Route("/v1/audio/speech", _api(("POST",), create_speech), name="speech", methods=ALL_METHODS),
        Route("/v1/models", _api(("GET",), list_models), name="models", methods=ALL_METHODS),
        Route("/v1/models/{model:path}", _api(("GET",), get_model), name="model", methods=ALL_METHODS),
        Route("/v1/audio/voices", _api(("GET",), list_voices), name="voices", methods=ALL_METHODS),
        Route("/v1/voices", _api(("GET", "POST"), voices_collection), name="saved_voices", methods=ALL_METHODS),
        Route("/v1/voices/{voice_id}", _api(("GET", "PATCH", "DELETE"), voice_item), name="saved_voice",
              methods=ALL_METHODS),
        Route("/v1/voices/{voice_id}/sample", _api(("GET",), voice_sample), name="saved_voice_sample",
              methods=ALL_METHODS),
        Route("/metrics", _api(("GET",), metrics_endpoint), name="metrics", methods=ALL_METHODS),
    ]
