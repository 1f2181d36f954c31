"""The backend a server with a given configuration serves: its discovered engines and word timer.

Shared by the app and by anything that must time the same engines in-process (the socket
benchmark's engine baseline), so both always run the same models.
"""

from __future__ import annotations

from realtime.backend.backend import TTSBackend
from realtime.config import ServerConfig
from realtime.engines.catalog import discover_engines, discover_word_timer


def served_backend(config: ServerConfig) -> TTSBackend:
    engines = discover_engines(config)
    return TTSBackend(
        engines, engine_threads=config.engine_threads, limits=config.limits,
        word_timer=discover_word_timer(config, engines),
    )
