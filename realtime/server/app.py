"""The Starlette application: lifespan (engines up and down), routes, static page."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from realtime.auth import AccessPolicy
from realtime.backend.backend import TTSBackend
from realtime.backend.served import served_backend
from realtime.config import ServerConfig, config_from_env
from realtime.engines.catalog import batch_stats, model_managers
from realtime.http import http_routes
from realtime.http.errors import ApiError
from realtime.http.request_id import RequestIdMiddleware
from realtime.metrics import HttpMetricsMiddleware, Metrics
from realtime.server.vendor import vendor_routes
from realtime.server.websocket import RealtimeEndpoint
from realtime.session.capacity import SessionSlots
from realtime.session.pending import PendingConnections
from realtime.voices.library import VoiceLibrary
from realtime.voices.opening import open_voice_store
from realtime.voices.store import Quota

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    backend: TTSBackend = request.app.state.backend
    if not backend.ready:
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", "models": [m.name for m in backend.models()]})


async def http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and methods: OpenAI's error shape under /v1, plain text elsewhere."""
    assert isinstance(exc, HTTPException)
    if not request.url.path.startswith("/v1/"):
        return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    message = f"{request.method} {request.url.path}: {exc.detail}"
    return ApiError(exc.status_code, message, code, headers=dict(exc.headers or {})).response()


async def _load_engines(backend: TTSBackend, metrics: Metrics) -> None:
    """Load every engine, counting the loads of models loaded at start-up (lazy ones report through their manager)."""
    eager = [engine.info.name for engine in backend.engines() if not engine.reports_own_loads]
    started = time.perf_counter()
    try:
        await backend.initialize()
    except Exception:
        for name in eager:
            metrics.model_loaded(name, time.perf_counter() - started, ok=False)
        raise
    for name in eager:
        metrics.model_loaded(name, time.perf_counter() - started, ok=True)


class RealtimeApp(Starlette):
    """Starlette, with the request id outside everything else: even a crash's 500 carries `x-request-id`."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestIdMiddleware(super().build_middleware_stack())


def create_app(config: ServerConfig | None = None, backend: TTSBackend | None = None) -> RealtimeApp:
    """The app; with no arguments it reads its configuration from the environment (Procfile, uvicorn --factory)."""
    config = config or config_from_env()
    if backend is None:
        backend = served_backend(config)
    metrics = Metrics()
    voices = open_voice_library(config, backend)
    for manager in model_managers(backend.engines(), backend.word_timer):  # Qwen3 models load on first use: count those loads too
        manager.on_load(metrics.model_loaded)
        metrics.watch_model_manager(manager.stats)
    metrics.watch_batches(batch_stats(backend.engines()))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await _load_engines(backend, metrics)
        logger.info("realtime-tts ready: models %s", ", ".join(m.name for m in backend.models()))
        try:
            yield
        finally:
            if voices is not None:
                voices.close()
            await backend.shutdown()

    routes = [
        WebSocketRoute("/v1/realtime", RealtimeEndpoint()),
        Route("/health", health),
        Route("/ready", ready),
        *http_routes(),
    ]
    routes.extend(vendor_routes())  # before "/": the page imports the library from there
    if STATIC_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    middleware = [Middleware(HttpMetricsMiddleware, metrics=metrics)]
    if config.allowed_origins:  # browsers on these Origins may call the HTTP API too
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(config.allowed_origins),
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=["Authorization", "Content-Type", "X-Request-Id"],
                expose_headers=["X-Seed", "X-Model", "X-Speaker", "X-Sample-Rate", "X-Voice", "X-Notice", "X-Request-Id"],
            )
        )
    app = RealtimeApp(
        routes=routes,
        lifespan=lifespan,
        middleware=middleware,
        exception_handlers={404: http_error, 405: http_error},
    )
    app.state.config = config
    app.state.access = AccessPolicy(api_keys=config.api_keys, allowed_origins=config.allowed_origins)
    app.state.metrics = metrics
    app.state.backend = backend
    app.state.slots = SessionSlots(backend.capacity)
    app.state.pending = PendingConnections(
        config.limits.max_pending_connections, config.limits.max_pending_per_client
    )
    app.state.voices = voices
    return app


def open_voice_library(config: ServerConfig, backend: TTSBackend) -> VoiceLibrary | None:
    """The saved-voice library (PostgreSQL at `voice_store_url`, else SQLite under `data_dir`), or None when off."""
    store = open_voice_store(config.voice_store_url, config.data_dir)
    if store is None:
        return None
    quota = Quota(max_voices_per_owner=config.max_voices_per_key, max_store_bytes=config.max_voice_store_bytes)
    return VoiceLibrary(store, backend, quota=quota, limits=config.limits)
