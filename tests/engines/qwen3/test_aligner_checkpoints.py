"""Qwen3-ForcedAligner checkpoints: told apart by config.json, built offline, loaded through the model manager."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from realtime.cli import main as cli_main
from realtime.engines.qwen3.aligner_checkpoints import (
    ALIGNER_FILES,
    AlignerCheckpoint,
    find_aligner,
    is_aligner_config,
    read_aligner_checkpoint,
)
from realtime.tools.qwen3_checkpoints import BuildError
from realtime.tools.qwen3_aligner_checkpoint import build_aligner_checkpoint
from realtime.engines.qwen3.checkpoints import CheckpointError, find_checkpoints
from realtime.engines.qwen3.manager import ModelManager, official_loader
from realtime.engines.qwen3.runtime import LoadOptions
from tests.engines.qwen3.test_checkpoints import write_config

# The released Qwen/Qwen3-ForcedAligner-0.6B config.json, trimmed to what identifies it.
RELEASED: dict[str, Any] = {
    "architectures": ["Qwen3ASRForConditionalGeneration"],
    "model_type": "qwen3_asr",
    "timestamp_token_id": 151705,
    "timestamp_segment_time": 80,
    "thinker_config": {"model_type": "qwen3_forced_aligner", "classify_num": 5000, "audio_token_id": 151676},
}


def write_aligner(directory: Path, **fields: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = {k: v for k, v in {**RELEASED, **fields}.items() if v is not None}
    (directory / "config.json").write_text(json.dumps(config))
    for group in ALIGNER_FILES:
        (directory / group[0]).touch()
    return directory


def test_the_forced_aligner_is_a_qwen3_asr_config_whose_thinker_is_the_aligner() -> None:
    assert is_aligner_config(RELEASED)
    recogniser = {**RELEASED, "thinker_config": {"model_type": "qwen3_asr_thinker"}}
    assert not is_aligner_config(recogniser)  # Qwen3-ASR, the speech recogniser: not an aligner
    assert not is_aligner_config({"model_type": "qwen3_tts", "talker_config": {}})
    assert not is_aligner_config({"model_type": "qwen3_asr", "thinker_config": "qwen3_forced_aligner"})


def test_an_aligner_directory_is_described_from_its_config(tmp_path: Path) -> None:
    found = read_aligner_checkpoint(write_aligner(tmp_path / "Qwen3-ForcedAligner-0.6B", support_languages=["Chinese", "English"]))
    assert found == AlignerCheckpoint("Qwen3-ForcedAligner-0.6B", tmp_path / "Qwen3-ForcedAligner-0.6B", ("chinese", "english"))
    assert read_aligner_checkpoint(write_aligner(tmp_path / "plain")).languages == ()  # no list: every language
    assert read_aligner_checkpoint(write_config(tmp_path / "tts", tts_model_type="base")) is None


@pytest.mark.parametrize(
    ("fields", "message"),
    [({"timestamp_token_id": None}, "timestamp_token_id is missing"),
     ({"timestamp_segment_time": "80"}, "timestamp_segment_time is missing or not a number"),
     ({"support_languages": "English"}, "support_languages must be a list")],
)
def test_a_broken_aligner_config_is_a_clear_checkpoint_error(tmp_path: Path, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        read_aligner_checkpoint(write_aligner(tmp_path / "aligner", **fields))


def test_find_takes_the_aligner_and_warns_about_an_incomplete_one(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_config(tmp_path / "a-voice", tts_model_type="base")
    partial = write_aligner(tmp_path / "b-aligner")
    (partial / "model.safetensors").unlink()
    write_aligner(tmp_path / "c-aligner")
    (tmp_path / "d-broken").mkdir()
    (tmp_path / "d-broken" / "config.json").write_text("{")
    with caplog.at_level(logging.WARNING, logger="realtime.engines.qwen3.aligner_checkpoints"):
        found = find_aligner(tmp_path)
    assert found is not None and found.name == "c-aligner"
    [warning] = [r.getMessage() for r in caplog.records]
    assert "b-aligner" in warning and "missing model.safetensors" in warning
    assert [c.name for c in find_checkpoints(tmp_path)] == ["a-voice"]  # not a TTS model
    assert find_aligner(tmp_path / "nowhere") is None


def test_the_tiny_aligner_has_the_released_layout(tiny_aligner: Path) -> None:
    config = json.loads((tiny_aligner / "config.json").read_text())
    assert is_aligner_config(config) and config["thinker_config"]["classify_num"] == 5
    assert config["timestamp_segment_time"] == 80
    tokenizer = json.loads((tiny_aligner / "tokenizer_config.json").read_text())
    assert tokenizer["extra_special_tokens"]["audio_token"] == "<|audio_pad|>"
    assert json.loads((tiny_aligner / "preprocessor_config.json").read_text())["feature_size"] == 128
    assert read_aligner_checkpoint(tiny_aligner) is not None


def test_the_aligner_loads_through_the_model_manager_with_the_official_loader(tiny_aligner: Path) -> None:
    checkpoint = read_aligner_checkpoint(tiny_aligner)
    assert checkpoint is not None
    manager = ModelManager(official_loader(LoadOptions(device="cpu", dtype="float32")), idle_timeout_s=None)
    try:
        with manager.acquire(checkpoint) as first, manager.acquire(checkpoint) as second:
            assert first.model is second.model  # shared
            aligner = first.model
            assert type(aligner).__name__ == "Qwen3ForcedAligner"
            assert aligner.model.thinker.lm_head.out_features == 5  # the timestamp head, not the token head
            assert aligner.timestamp_token_id == aligner.processor.tokenizer.convert_tokens_to_ids("<timestamp>")
        assert manager.stats().loads == 1 and manager.stats().loaded == ("tiny-forced-aligner",)
    finally:
        manager.shutdown()


def test_unknown_aligner_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="1.7b"):
        build_aligner_checkpoint(tmp_path / "x", "1.7b")


def test_make_checkpoints_builds_the_aligner_when_asked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["make-checkpoints", "--out", str(tmp_path), "--types", "forced_aligner"]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["tiny-forced-aligner"]
    assert find_aligner(tmp_path) is not None
    assert "tiny-forced-aligner: forced_aligner" in capsys.readouterr().out
