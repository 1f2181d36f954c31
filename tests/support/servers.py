"""Module-scoped servers for tests that share one special configuration.

Starting a server loads the engine, so tests with the same configuration share one;
a single engine thread keeps the start short.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest

from realtime.backend.backend import TTSBackend
from realtime.config import Limits, ServerConfig
from realtime.server.run import BackgroundServer


def server_fixture(
    *, limits: dict[str, Any] | None = None, backend: Callable[[], TTSBackend] | None = None, **options: Any
) -> Any:
    """A module-scoped fixture yielding a running server with these limits, options and backend."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[BackgroundServer]:
        config = ServerConfig(log_level="warning", **{"engine_threads": 1, **options})
        if limits:
            config = replace(config, limits=replace(Limits(), **limits))
        with BackgroundServer(config, backend() if backend else None) as running:
            yield running

    return fixture
