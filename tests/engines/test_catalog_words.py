"""Which word aligners a server gets from its models directory, and which model manager holds the aligner."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from realtime.config import ServerConfig
from realtime.engines import catalog
from realtime.engines.catalog import discover_engines, discover_word_timer, model_managers
from realtime.words.qwen3_aligner import Qwen3Aligner
from tests.conftest import models_dir_with


def test_without_an_aligner_checkpoint_words_use_pocketsphinx_and_estimates(tmp_path: Path) -> None:
    timer = discover_word_timer(ServerConfig(models_dir=tmp_path), [])
    assert timer.multilingual is None
    assert [a.name for a in timer.aligners_for("Hello.", "english")] == ["pocketsphinx"]


def test_the_aligner_shares_the_tts_models_manager_and_english_tries_pocketsphinx_first_on_the_cpu(
    tiny_checkpoints: dict[str, Path], tiny_aligner: Path, tmp_path: Path
) -> None:
    models = models_dir_with(tmp_path / "models", tiny_checkpoints["custom_voice"], tiny_aligner)
    config = ServerConfig(models_dir=models, device="cpu")
    engines = discover_engines(config)
    timer = discover_word_timer(config, engines)
    aligner = timer.multilingual
    assert isinstance(aligner, Qwen3Aligner) and aligner.checkpoint.name == "tiny-forced-aligner"
    assert model_managers(engines, timer) == model_managers(engines) == [aligner.manager]  # one manager for all
    assert [a.name for a in timer.aligners_for("Hello.", "english")] == ["pocketsphinx", "qwen3-forced-aligner"]
    assert [a.name for a in timer.aligners_for("你好。", "chinese")] == ["qwen3-forced-aligner"]
    alone = discover_word_timer(ServerConfig(models_dir=models_dir_with(tmp_path / "alone", tiny_aligner), device="cpu"), [])
    assert isinstance(alone.multilingual, Qwen3Aligner)
    assert model_managers([], alone) == [alone.multilingual.manager]  # its own manager, still watched by /metrics
    for engine in engines:
        engine.shutdown()
    alone.shutdown()


def test_an_aligner_checkpoint_without_qwen_asr_installed_is_reported_and_left_alone(
    tiny_aligner: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(catalog, "qwen3_asr_installed", lambda: False)
    with caplog.at_level(logging.ERROR, logger="realtime.engines.catalog"):
        timer = discover_word_timer(ServerConfig(models_dir=models_dir_with(tmp_path / "models", tiny_aligner)), [])
    assert timer.multilingual is None
    [error] = [r.getMessage() for r in caplog.records]
    assert "tiny-forced-aligner" in error and "scripts/setup qwen" in error
