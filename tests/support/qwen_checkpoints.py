"""Tiny random Qwen3-TTS checkpoints for tests: built once per session, in seconds, offline."""

from __future__ import annotations

from pathlib import Path

TINY_KINDS = ("base", "custom_voice", "voice_design")


def build_tiny_checkpoints(out_dir: Path, seed: int = 0) -> dict[str, Path]:
    """{"base": .../tiny-base, "custom_voice": .../tiny-custom-voice, "voice_design": .../tiny-voice-design}.

    Imports the torch stack only when called, so collecting the suite stays light.
    """
    from realtime.engines.qwen3.build import build_checkpoints

    return build_checkpoints(out_dir, size="tiny", model_types=TINY_KINDS, seed=seed)
