"""The HTTP API beside the socket: OpenAI-compatible speech, the catalogue, metrics."""

from __future__ import annotations

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


def http_routes() -> list[Route]:
    return [
        Route("/v1/audio/speech", create_speech, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
        Route("/v1/audio/voices", list_voices, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
    ]
