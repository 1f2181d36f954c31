"""Running the app under uvicorn: in the foreground (`realtime-tts serve`) or in a thread (tests, bench)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import uvicorn

from realtime.backend.backend import TTSBackend
from realtime.config import ServerConfig
from realtime.http.request_id import RequestIdLogFilter
from realtime.server.app import create_app

# uvicorn refuses frames over its own limit with a bare close; set it above ours so that a
# frame just over our limit gets the protocol's `error` message before the 1009 close.
WS_MAX_SIZE_FACTOR = 2


def uvicorn_config(config: ServerConfig, backend: TTSBackend | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(config, backend),
        host=config.host,
        port=config.port,
        ws_max_size=config.limits.max_frame_bytes * WS_MAX_SIZE_FACTOR,
        ws_per_message_deflate=False,  # audio does not compress; deflate only costs latency
        log_level=config.log_level,
        log_config=None,  # uvicorn's lines go to the root handler too, so they carry the request id
        lifespan="on",
    )


def configure_logging(level: str) -> None:
    """One handler for every logger (uvicorn's too); lines written while serving an HTTP request end in its id."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s%(request_tag)s"))
    handler.addFilter(RequestIdLogFilter())
    logging.basicConfig(level=level.upper(), handlers=[handler])


def serve(config: ServerConfig) -> None:
    """Run until interrupted."""
    configure_logging(config.log_level)
    uvicorn.Server(uvicorn_config(config)).run()


class BackgroundServer:
    """A real server on a free loopback port, in a daemon thread; `url` once started."""

    def __init__(self, config: ServerConfig | None = None, backend: TTSBackend | None = None) -> None:
        self.config = config or ServerConfig(log_level="warning")
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((self.config.host, 0))
        self.port: int = self._socket.getsockname()[1]
        self.server = uvicorn.Server(uvicorn_config(self.config, backend))
        self.server.config.port = self.port
        self._thread = threading.Thread(target=self._run, name="realtime-tts-server", daemon=True)

    @property
    def app(self):  # type: ignore[no-untyped-def]
        return self.server.config.app

    @property
    def url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/v1/realtime"

    @property
    def http_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self._socket]))

    def start(self, timeout: float = 60.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
