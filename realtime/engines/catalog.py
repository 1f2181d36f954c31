"""Which engines a server runs: the Qwen3-TTS checkpoints found in the models directory, then the embedded one.

Checkpoints are described from their config.json without loading anything; each model
loads on first use through one shared ModelManager. The embedded engine always comes
last, so a mode's default model is an installed Qwen3 checkpoint when there is one.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from realtime.config import ServerConfig
from realtime.engines.base import Engine
from realtime.engines.hibari_engine import HIBARI_MODEL_NAME, HibariEngine
from realtime.engines.qwen3.checkpoints import Checkpoint, find_checkpoints
from realtime.engines.qwen3.engine import Qwen3Engine
from realtime.engines.qwen3.manager import ModelManager

if TYPE_CHECKING:
    from realtime.engines.qwen3.scheduler import SchedulerStats

logger = logging.getLogger(__name__)


def qwen3_installed() -> bool:
    """Whether the optional Qwen3 stack (`scripts/setup qwen`) is installed, without importing it."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "qwen_tts"))


def qwen3_engines(checkpoints: list[Checkpoint], config: ServerConfig) -> list[Engine]:
    """One engine per checkpoint, sharing one ModelManager (lazy load, idle unload)."""
    from realtime.engines.qwen3.manager import official_loader
    from realtime.engines.qwen3.runtime import LoadOptions

    manager = ModelManager(
        official_loader(LoadOptions.from_config(config)), idle_timeout_s=config.model_idle_unload_s
    )
    return [
        Qwen3Engine(
            checkpoint, manager, preload=config.preload_models,
            max_batch=config.max_batch, deterministic=config.deterministic,
        )
        for checkpoint in checkpoints
    ]


def discover_engines(config: ServerConfig) -> list[Engine]:
    """The engines for `config`: Qwen3 checkpoints under `models_dir` (when installed), then hibari."""
    checkpoints = [c for c in find_checkpoints(config.models_dir) if c.name != HIBARI_MODEL_NAME]
    engines: list[Engine] = []
    if checkpoints and not qwen3_installed():
        logger.error(
            "Qwen3-TTS checkpoints in %s (%s) cannot be served: the qwen extra is not installed "
            "(run `scripts/setup qwen`); serving the embedded engine only",
            config.models_dir,
            ", ".join(c.name for c in checkpoints),
        )
    elif checkpoints:
        engines.extend(qwen3_engines(checkpoints, config))
        logger.info("Qwen3-TTS checkpoints: %s", ", ".join(f"{c.name} ({c.mode})" for c in checkpoints))
    engines.append(HibariEngine(threads=config.engine_threads))
    return engines


def model_managers(engines: list[Engine]) -> list[ModelManager]:
    """The distinct model managers behind these engines (for metrics)."""
    managers: dict[int, ModelManager] = {}
    for engine in engines:
        if isinstance(engine, Qwen3Engine):
            managers.setdefault(id(engine.manager), engine.manager)
    return list(managers.values())


def batch_stats(engines: list[Engine]) -> Callable[[], dict[str, SchedulerStats]]:
    """Each batched Qwen3 model's scheduler figures, by model name (for metrics)."""
    schedulers = {
        engine.info.name: engine.scheduler
        for engine in engines
        if isinstance(engine, Qwen3Engine) and engine.scheduler is not None
    }

    def read() -> dict[str, SchedulerStats]:
        return {name: scheduler.stats() for name, scheduler in schedulers.items()}

    return read
