"""Which engines a server runs: the Qwen3-TTS checkpoints found in the models directory, then the embedded one;
and which word aligners: a Qwen3-ForcedAligner checkpoint found there, beside pocketsphinx.

Checkpoints are described from their config.json without loading anything; each model
loads on first use through one shared ModelManager (the aligner too). The embedded engine
always comes last, so a mode's default model is an installed Qwen3 checkpoint when there is one.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from realtime.config import ServerConfig
from realtime.engines.base import Engine
from realtime.engines.hibari_engine import HIBARI_MODEL_NAME, HibariEngine
from realtime.engines.qwen3.aligner_checkpoints import find_aligner
from realtime.engines.qwen3.checkpoints import Checkpoint, find_checkpoints
from realtime.engines.qwen3.engine import Qwen3Engine
from realtime.engines.qwen3.manager import ModelManager
from realtime.words.aligner import WordTimer
from realtime.words.qwen3_aligner import Qwen3Aligner

if TYPE_CHECKING:
    from realtime.engines.qwen3.scheduler import SchedulerStats

logger = logging.getLogger(__name__)


def qwen3_installed() -> bool:
    """Whether the optional Qwen3 stack (`scripts/setup qwen`) is installed, without importing it."""
    return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "qwen_tts"))


def qwen3_asr_installed() -> bool:
    """Whether `qwen-asr` (the forced aligner, installed by `scripts/setup qwen`) is there, without importing it."""
    return qwen3_installed() and importlib.util.find_spec("qwen_asr") is not None


def model_manager(config: ServerConfig) -> ModelManager:
    """The manager that loads the Qwen3 models of this configuration (lazy load, idle unload)."""
    from realtime.engines.qwen3.manager import official_loader
    from realtime.engines.qwen3.runtime import LoadOptions

    return ModelManager(official_loader(LoadOptions.from_config(config)), idle_timeout_s=config.model_idle_unload_s)


def qwen3_engines(checkpoints: list[Checkpoint], config: ServerConfig, manager: ModelManager | None = None) -> list[Engine]:
    """One engine per checkpoint, sharing one ModelManager (lazy load, idle unload)."""
    manager = manager or model_manager(config)
    return [
        Qwen3Engine(
            checkpoint, manager, preload=config.preload_models,
            max_batch=config.max_batch, deterministic=config.deterministic, prefill_lanes=config.prefill_lanes,
        )
        for checkpoint in checkpoints
    ]


def discover_word_timer(config: ServerConfig, engines: list[Engine]) -> WordTimer:
    """Word timing for this server: with the Qwen3 forced aligner when its checkpoint is under `models_dir`.

    The aligner loads on first use through the same ModelManager as the TTS checkpoints
    (one is made when there are none), so it is shared, counted and unloaded like them. On
    the CPU it costs seconds per second of audio: English then goes to pocketsphinx first.
    """
    checkpoint = find_aligner(config.models_dir)
    if checkpoint is None:
        return WordTimer()
    if not qwen3_asr_installed():
        logger.error(
            "the forced aligner %s cannot be used: qwen-asr is not installed (run `scripts/setup qwen`); "
            "word timestamps use pocketsphinx (English) and estimates",
            checkpoint.path,
        )
        return WordTimer()
    from realtime.engines.qwen3.runtime import LoadOptions

    managers = model_managers(engines)
    manager = managers[0] if managers else model_manager(config)
    on_gpu = LoadOptions.from_config(config).resolved_device().startswith("cuda")
    logger.info(
        "word timestamps: Qwen3 forced aligner %s (%s)", checkpoint.name,
        "every Qwen3 language" if on_gpu else "every Qwen3 language; English after pocketsphinx, as it runs on the CPU",
    )
    return WordTimer(
        multilingual=Qwen3Aligner(manager, checkpoint), languages=checkpoint.languages, english_first=not on_gpu
    )


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


def model_managers(engines: list[Engine], word_timer: WordTimer | None = None) -> list[ModelManager]:
    """The distinct model managers behind these engines and the word timer's aligner (for metrics)."""
    managers: dict[int, ModelManager] = {}
    for engine in engines:
        if isinstance(engine, Qwen3Engine):
            managers.setdefault(id(engine.manager), engine.manager)
    aligner = word_timer.multilingual if word_timer is not None else None
    if isinstance(aligner, Qwen3Aligner):
        managers.setdefault(id(aligner.manager), aligner.manager)
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
