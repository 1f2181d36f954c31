"""The HTTP API beside the socket: OpenAI-compatible speech, the catalogue, metrics."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.http.access import check_access
from realtime.http.catalog import get_model, list_models, list_voices
from realtime.http.errors import ApiError
from realtime.http.speech import create_speech


async def metrics_endpoint(request: Request) -> Response:
    """Prometheus text exposition; behind the API key when the server has one."""
    try:
        check_access(request.headers, request.app.state.access)
    except ApiError as error:
        return error.response()
    metrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=metrics.content_type)


Endpoint = Callable[[Request], Awaitable[Response]]
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def _only(methods: tuple[str, ...], endpoint: Endpoint) -> Endpoint:
    """The route takes every method and answers the wrong ones 405 itself: otherwise the static
    page mounted at / would claim them and answer 404."""
    allowed = (*methods, "HEAD") if "GET" in methods else methods

    async def guarded(request: Request) -> Response:
        if request.method not in allowed:
            return ApiError(
                405,
                f"{request.method} {request.url.path}: method not allowed; use {', '.join(methods)}",
                "method_not_allowed",
                headers={"Allow": ", ".join(allowed)},
            ).response()
        return await endpoint(request)

    return guarded


def http_routes() -> list[Route]:
    return [
        Route("/v1/audio/speech", _only(("POST",), create_speech), name="speech", methods=ALL_METHODS),
        Route("/v1/models", _only(("GET",), list_models), name="models", methods=ALL_METHODS),
        Route("/v1/models/{model:path}", _only(("GET",), get_model), name="model", methods=ALL_METHODS),
        Route("/v1/audio/voices", _only(("GET",), list_voices), name="voices", methods=ALL_METHODS),
        Route("/metrics", _only(("GET",), metrics_endpoint), name="metrics", methods=ALL_METHODS),
    ]
