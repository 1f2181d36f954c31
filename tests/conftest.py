"""Shared fixtures: real servers on free loopback ports, and a raw protocol client."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from realtime.backend.backend import TTSBackend
from realtime.config import Limits, ServerConfig
from realtime.server.run import BackgroundServer
from tests.support.once_per_run import built_once_per_run
from tests.support.postgres import postgres_server, postgres_url  # noqa: F401 (fixtures: a throw-away PostgreSQL)

T = TypeVar("T")


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Tests go to workers one by one, each worker keeping to one module at a time (tests/support/scheduling.py)."""
    from tests.support.scheduling import ModuleAffineScheduling

    return ModuleAffineScheduling(config, log)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze what collection imported (torch, transformers, ...) out of the garbage collector's sight.

    Every server shutdown runs a full `gc.collect()` (realtime/engines/qwen3/manager.py frees
    dropped models); with some 400,000 objects of imported modules to walk, each took about
    0.35 s. Those objects live as long as the process anyway: frozen, a collection walks only
    what the tests made.
    """
    gc.collect()
    gc.freeze()


@pytest.fixture(scope="session", autouse=True)
def _warm_hibari() -> Iterator[None]:
    """Servers and backends borrow warm hibari instances instead of loading their own (tests/support/warm_hibari.py)."""
    from tests.support.warm_hibari import shared_hibari_instances

    with shared_hibari_instances():
        yield


def run(coro: Coroutine[Any, Any, T], timeout: float = 60.0) -> T:
    """Run one async test body with a hard time limit."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture(scope="session")
def server() -> Iterator[BackgroundServer]:
    """One server with default settings on the embedded engine, shared by the tests that need no special config."""
    with BackgroundServer(ServerConfig(log_level="warning")) as running:
        yield running


@pytest.fixture
def make_server() -> Iterator[Callable[..., BackgroundServer]]:
    """Start a server with other limits or options (`limits=dict(...)`, config fields, `backend=`)."""
    started: list[BackgroundServer] = []

    def factory(*, limits: dict[str, Any] | None = None, backend: TTSBackend | None = None, **options: Any) -> BackgroundServer:
        config = ServerConfig(log_level="warning", **options)
        if limits:
            config = replace(config, limits=replace(Limits(), **limits))
        running = BackgroundServer(config, backend).start()
        started.append(running)
        return running

    yield factory
    for running in started:
        running.stop()


@pytest.fixture(scope="session")
def tiny_checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three tiny random Qwen3-TTS checkpoints (base, custom_voice, voice_design), built once per run.

    The directories are named tiny-base, tiny-custom-voice and tiny-voice-design (valid model
    names) and live side by side, so their parent works as a `models_dir`. Shared by every
    worker: tests copy a checkpoint before changing it.
    """
    from tests.support.qwen_checkpoints import build_tiny_checkpoints

    return built_once_per_run(tmp_path_factory, "qwen3-models", build_tiny_checkpoints)


@pytest.fixture(scope="session")
def tiny_aligner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen3-ForcedAligner checkpoint (tiny-forced-aligner), built once per session in its own directory.

    Not beside the TTS checkpoints: servers on `tiny_checkpoints` keep pocketsphinx and estimates;
    tests that want the aligner make a models directory holding both (`models_dir_with`).
    """
    from tests.support.qwen_checkpoints import build_tiny_aligner

    return built_once_per_run(tmp_path_factory, "qwen3-aligner", build_tiny_aligner)


def models_dir_with(target: Path, *checkpoints: Path) -> Path:
    """A models directory at `target` whose entries link to these checkpoint directories."""
    target.mkdir(parents=True, exist_ok=True)
    for checkpoint in checkpoints:
        (target / checkpoint.name).symlink_to(checkpoint, target_is_directory=True)
    return target
