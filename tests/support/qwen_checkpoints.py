"""Tiny random Qwen3-TTS and Qwen3-ForcedAligner checkpoints for tests: built once per session, in seconds, offline."""

from __future__ import annotations

from pathlib import Path

TINY_KINDS = ("base", "custom_voice", "voice_design")


def build_tiny_checkpoints(out_dir: Path, seed: int = 0) -> dict[str, Path]:
    """{"base": .../tiny-base, "custom_voice": .../tiny-custom-voice, "voice_design": .../tiny-voice-design}.

    Imports the torch stack only when called, so collecting the suite stays light.
    """
    from realtime.tools.qwen3_checkpoints import build_checkpoints

    return build_checkpoints(out_dir, size="tiny", model_types=TINY_KINDS, seed=seed)


def build_tiny_aligner(out_dir: Path, seed: int = 0) -> Path:
    """.../tiny-forced-aligner: a random Qwen3-ForcedAligner in the released layout (5 time classes, 0-320 ms)."""
    from realtime.tools.qwen3_aligner_checkpoint import aligner_checkpoint_name, build_aligner_checkpoint

    return build_aligner_checkpoint(Path(out_dir) / aligner_checkpoint_name("tiny"), "tiny", seed)
