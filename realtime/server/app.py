"""The Starlette application: lifespan (engines up and down), routes, static page."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from realtime.backend.backend import TTSBackend
from realtime.config import ServerConfig, config_from_env
from realtime.server.vendor import vendor_routes
from realtime.server.websocket import realtime_endpoint
from realtime.session.capacity import SessionSlots

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def ready(request: Request) -> JSONResponse:
    backend: TTSBackend = request.app.state.backend
    if not backend.ready:
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"status": "ready", "models": [m.name for m in backend.models()]})


def _note_unused_checkpoints(models_dir: Path) -> None:
    """Say so when checkpoints are present that this version cannot load yet, rather than ignore them silently."""
    found = sorted(p.parent.name for p in models_dir.glob("*/config.json")) if models_dir.is_dir() else []
    if found:
        logger.warning(
            "checkpoints in %s (%s) are not loaded: Qwen3-TTS support is not in this version; serving the embedded engine",
            models_dir, ", ".join(found),
        )


def create_app(config: ServerConfig | None = None, backend: TTSBackend | None = None) -> Starlette:
    """The app; with no arguments it reads its configuration from the environment (Procfile, uvicorn --factory)."""
    config = config or config_from_env()
    backend = backend or TTSBackend(engine_threads=config.engine_threads, limits=config.limits)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        _note_unused_checkpoints(config.models_dir)
        await backend.initialize()
        logger.info("realtime-tts ready: models %s", ", ".join(m.name for m in backend.models()))
        try:
            yield
        finally:
            await backend.shutdown()

    routes = [
        WebSocketRoute("/v1/realtime", realtime_endpoint),
        Route("/health", health),
        Route("/ready", ready),
    ]
    routes.extend(vendor_routes())  # before "/": the page imports the library from there
    if STATIC_DIR.is_dir():
        routes.append(Mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static"))
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.config = config
    app.state.backend = backend
    app.state.slots = SessionSlots(backend.capacity)
    return app
