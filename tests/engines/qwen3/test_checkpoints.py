"""Checkpoint discovery: kind, speakers, languages and instruct support from config.json alone."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from realtime.engines.qwen3.checkpoints import (
    REQUIRED_FILES,
    CheckpointError,
    find_checkpoints,
    model_type_from_path,
    read_checkpoint,
)

LANGUAGE_IDS = {"english": 2050, "chinese": 2055, "beijing_dialect": 2074}
SPEAKER_IDS = {"Ryan": 3061, "vivian": 3065}


def write_config(directory: Path, **fields: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {
        "model_type": "qwen3_tts",
        "talker_config": {"codec_language_id": LANGUAGE_IDS, "spk_id": SPEAKER_IDS},
        **fields,
    }
    config = {k: v for k, v in config.items() if v is not None}
    (directory / "config.json").write_text(json.dumps(config))
    write_other_files(directory)
    return directory


def write_other_files(directory: Path) -> None:
    """Empty stand-ins for the weights and tokenizer files: only their presence is read."""
    for group in REQUIRED_FILES:
        (directory / group[0]).parent.mkdir(parents=True, exist_ok=True)
        (directory / group[0]).touch()


def test_the_model_type_comes_from_the_config_not_the_name(tmp_path: Path) -> None:
    checkpoint = read_checkpoint(write_config(tmp_path / "Qwen3-TTS-12Hz-1.7B-Base", tts_model_type="voice_design"))
    assert checkpoint.model_type == "voice_design" and checkpoint.mode == "voice_design"
    assert checkpoint.name == "Qwen3-TTS-12Hz-1.7B-Base"


@pytest.mark.parametrize(
    ("name", "model_type"),
    [
        ("Qwen3-TTS-12Hz-1.7B-VoiceDesign", "voice_design"),
        ("my_voice_design", "voice_design"),
        ("tiny-voice-design", "voice_design"),
        ("Qwen3-TTS-12Hz-0.6B-CustomVoice", "custom_voice"),
        ("tiny-custom-voice", "custom_voice"),
        ("Qwen3-TTS-12Hz-0.6B-Base", "base"),
        ("anything-else", "base"),
    ],
)
def test_without_tts_model_type_the_directory_name_decides(tmp_path: Path, name: str, model_type: str) -> None:
    assert model_type_from_path(Path(name)) == model_type
    assert read_checkpoint(write_config(tmp_path / name)).model_type == model_type


def test_a_custom_voice_lists_its_speakers_and_languages_without_dialects(tmp_path: Path) -> None:
    checkpoint = read_checkpoint(write_config(tmp_path / "cv", tts_model_type="custom_voice", tts_model_size="1b7"))
    assert checkpoint.speakers == ("ryan", "vivian")
    assert checkpoint.languages == ("auto", "chinese", "english")
    assert checkpoint.accepts_instruct and checkpoint.notice is None and checkpoint.size == "1b7"


def test_the_small_custom_voice_ignores_instruct_and_says_so(tmp_path: Path) -> None:
    checkpoint = read_checkpoint(write_config(tmp_path / "cv", tts_model_type="custom_voice", tts_model_size="0b6"))
    assert not checkpoint.accepts_instruct
    assert checkpoint.notice is not None and "instruct" in checkpoint.notice


def test_base_models_clone_voices_have_no_speakers_and_take_no_instruct(tmp_path: Path) -> None:
    checkpoint = read_checkpoint(write_config(tmp_path / "b", tts_model_type="base", tts_model_size="1b7"))
    assert checkpoint.mode == "voice_clone" and checkpoint.speakers == () and not checkpoint.accepts_instruct


def test_voice_design_takes_instruct_whatever_its_size(tmp_path: Path) -> None:
    assert read_checkpoint(write_config(tmp_path / "vd", tts_model_type="voice_design", tts_model_size="0b6")).accepts_instruct


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        (json.dumps({"model_type": "qwen3_tts"}), "talker_config"),
        (json.dumps({"model_type": "qwen3_tts", "tts_model_type": "singer", "talker_config": {}}), "singer"),
        (json.dumps({"model_type": "qwen3_tts", "talker_config": {"spk_id": [1]}, "tts_model_type": "custom_voice"}), "spk_id"),
    ],
)
def test_a_broken_config_is_a_clear_checkpoint_error(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(tmp_path)


def test_an_interrupted_download_is_skipped_naming_the_files_it_lacks(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    partial = write_config(tmp_path / "Qwen3-TTS-12Hz-0.6B-Base", tts_model_type="base")
    (partial / "speech_tokenizer" / "model.safetensors").unlink()
    sharded = write_config(tmp_path / "Qwen3-TTS-12Hz-1.7B-Base", tts_model_type="base")
    (sharded / "model.safetensors").unlink()
    (sharded / "model.safetensors.index.json").touch()  # sharded weights are complete
    with caplog.at_level(logging.WARNING, logger="realtime.engines.qwen3.checkpoints"):
        assert [c.name for c in find_checkpoints(tmp_path)] == ["Qwen3-TTS-12Hz-1.7B-Base"]
    [warning] = [r.getMessage() for r in caplog.records]
    assert "0.6B-Base" in warning and "missing speech_tokenizer/model.safetensors" in warning
    assert read_checkpoint(partial).model_type == "base"  # describing it needs config.json alone


def test_find_skips_other_directories_and_warns_about_broken_ones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_config(tmp_path / "b-voice", tts_model_type="base")
    write_config(tmp_path / "a-design", tts_model_type="voice_design")
    (tmp_path / "empty").mkdir()
    (tmp_path / "README.md").write_text("not a directory")
    (tmp_path / "whisper").mkdir()
    (tmp_path / "whisper" / "config.json").write_text(json.dumps({"model_type": "whisper"}))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{")
    with caplog.at_level(logging.DEBUG, logger="realtime.engines.qwen3.checkpoints"):
        found = find_checkpoints(tmp_path)
    assert [c.name for c in found] == ["a-design", "b-voice"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "broken" in warnings[0]
    assert any("whisper" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)


def test_a_missing_models_directory_has_no_checkpoints(tmp_path: Path) -> None:
    assert find_checkpoints(tmp_path / "nowhere") == []
