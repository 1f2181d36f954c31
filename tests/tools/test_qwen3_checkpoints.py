"""Random checkpoints: the released layout, loaded back by the official loader, generating in every mode."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from realtime.cli import main as cli_main
from realtime.tools.qwen3_checkpoints import GENERATION_CONFIG, PROMPT_TOKEN_COUNTS, BuildError, build_checkpoint
from realtime.engines.qwen3.checkpoints import read_checkpoint
from realtime.engines.qwen3.runtime import LoadOptions, load_model

FRAME_SAMPLES = 1920
MAX_FRAMES = 4


@pytest.fixture(scope="module")
def models(tiny_checkpoints: dict[str, Path]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(1)
    return {kind: load_model(path, LoadOptions(device="cpu", dtype="float32")) for kind, path in tiny_checkpoints.items()}


def reference_audio() -> tuple[np.ndarray, int]:
    t = np.arange(24000) / 24000
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32), 24000


def assert_bounded_audio(result: tuple[list[np.ndarray], int]) -> None:
    wavs, sample_rate = result
    assert sample_rate == 24000 and len(wavs) == 1
    audio = wavs[0]
    assert audio.dtype == np.float32 and audio.ndim == 1 and np.isfinite(audio).all()
    assert 0 < audio.size <= MAX_FRAMES * FRAME_SAMPLES and audio.size % FRAME_SAMPLES == 0
    assert np.sqrt(np.mean(audio**2)) > 1e-3  # audible, not the near-silence of HF's default init


def test_tiny_checkpoints_have_the_released_layout(tiny_checkpoints: dict[str, Path]) -> None:
    assert {kind: path.name for kind, path in tiny_checkpoints.items()} == {
        "base": "tiny-base", "custom_voice": "tiny-custom-voice", "voice_design": "tiny-voice-design",
    }
    for kind, path in tiny_checkpoints.items():
        for name in ("config.json", "generation_config.json", "model.safetensors", "tokenizer_config.json",
                     "vocab.json", "merges.txt", "speech_tokenizer/config.json",
                     "speech_tokenizer/preprocessor_config.json", "speech_tokenizer/model.safetensors"):
            assert (path / name).is_file(), f"{path.name}/{name}"
        config = json.loads((path / "config.json").read_text())
        assert config["model_type"] == "qwen3_tts" and config["tts_model_type"] == kind
        assert "model_type" not in config["speaker_encoder_config"]
        assert json.loads((path / "generation_config.json").read_text()) == GENERATION_CONFIG
        checkpoint = read_checkpoint(path)
        assert checkpoint.model_type == kind and "english" in checkpoint.languages
        assert (len(checkpoint.speakers) == 9) == (kind == "custom_voice")


def test_the_text_tokenizer_keeps_the_prompt_token_counts(tiny_checkpoints: dict[str, Path]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_checkpoints["base"])
    for text, count in PROMPT_TOKEN_COUNTS.items():
        assert len(tokenizer(text)["input_ids"]) == count, text


def test_the_speech_decoder_is_audible_and_depends_on_the_codes(models: dict[str, Any]) -> None:
    import torch

    speech_tokenizer = models["base"].model.speech_tokenizer
    generator = torch.Generator().manual_seed(3)
    codes = [torch.randint(0, 2048, (6, 16), generator=generator) for _ in range(2)]
    (first, second), sample_rate = speech_tokenizer.decode([{"audio_codes": c} for c in codes])
    assert sample_rate == 24000 and first.shape == second.shape == (6 * FRAME_SAMPLES,)
    assert 0.02 < np.sqrt(np.mean(first**2)) < 1.0
    assert np.sqrt(np.mean((first - second) ** 2)) > 0.01


def test_custom_voice_generates_with_the_official_api(models: dict[str, Any]) -> None:
    model = models["custom_voice"]
    assert {s.lower() for s in model.get_supported_speakers()} >= {"ryan", "vivian", "ono_anna"}
    assert_bounded_audio(model.generate_custom_voice(text="Hello world.", language="English", speaker="Ryan",
                                                     max_new_tokens=MAX_FRAMES))
    assert_bounded_audio(model.generate_custom_voice(text="Hello world.", language="Auto", speaker="vivian",
                                                     instruct="Very happy.", max_new_tokens=MAX_FRAMES))


def test_voice_design_generates_with_the_official_api(models: dict[str, Any]) -> None:
    assert_bounded_audio(models["voice_design"].generate_voice_design(
        text="Hello world.", language="English", instruct="A calm voice.", max_new_tokens=MAX_FRAMES))


def test_voice_clone_generates_from_an_x_vector_and_from_a_reference_transcript(models: dict[str, Any]) -> None:
    model = models["base"]
    assert_bounded_audio(model.generate_voice_clone(
        text="Hello world.", language="English", ref_audio=reference_audio(), x_vector_only_mode=True,
        max_new_tokens=MAX_FRAMES))
    prompt = model.create_voice_clone_prompt(ref_audio=reference_audio(), ref_text="Okay. Yeah. I resent you.")
    assert prompt[0].ref_code.shape[-1] == 16 and prompt[0].icl_mode
    assert_bounded_audio(model.generate_voice_clone(
        text="She said so.", language="English", voice_clone_prompt=prompt, max_new_tokens=MAX_FRAMES))


def test_the_seed_decides_the_weights_and_leaves_the_global_rng_alone(tmp_path: Path) -> None:
    import torch
    from safetensors.torch import load_file

    state = torch.random.get_rng_state()
    paths = [build_checkpoint(tmp_path / name, "voice_design", seed=seed) for name, seed in (("a", 1), ("b", 1), ("c", 2))]
    assert torch.equal(torch.random.get_rng_state(), state)
    a, b, c = (load_file(path / "model.safetensors") for path in paths)
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert any(not torch.equal(a[name], c[name]) for name in a)


def test_unknown_kinds_and_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="singer"):
        build_checkpoint(tmp_path / "x", "singer")
    with pytest.raises(BuildError, match="3b"):
        build_checkpoint(tmp_path / "x", "base", size="3b")


def test_make_checkpoints_command_builds_the_kinds_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["make-checkpoints", "--out", str(tmp_path), "--types", "custom_voice", "--seed", "5"]) == 0
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == ["tiny-custom-voice"]
    assert read_checkpoint(tmp_path / "tiny-custom-voice").model_type == "custom_voice"
    assert "tiny-custom-voice" in capsys.readouterr().out
