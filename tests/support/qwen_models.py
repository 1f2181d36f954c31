"""Loaded tiny Qwen3-TTS models for the step-loop tests (one load per session per type).

The models are built by the `tiny_checkpoints` fixture and loaded through the official
`Qwen3TTSModel.from_pretrained`, float32 on CPU. Tests must not change them: tests that
need a modified model load their own copy with `load_tiny`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest


def load_tiny(path: Path) -> Any:
    """A fresh official Qwen3TTSModel from a tiny checkpoint directory (CPU, float32, sdpa)."""
    from realtime.engines.qwen3.runtime import LoadOptions, load_model

    return load_model(path, LoadOptions(device="cpu", dtype="float32", attn_implementation="sdpa"))


@pytest.fixture(scope="session")
def qwen_models(tiny_checkpoints: dict[str, Path]) -> dict[str, Any]:
    """{"base", "custom_voice", "voice_design"} -> a loaded model, shared by the session."""
    import torch

    torch.set_num_threads(1)
    return {kind: load_tiny(path) for kind, path in tiny_checkpoints.items()}


def reference_audio(seconds: float = 1.5, sample_rate: int = 24_000) -> np.ndarray:
    """A voiced-sounding test signal: a 220 Hz tone with a slow tremolo, float32 mono."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def official_codes(tts: Any, method: str, frames: int, sampling: Any, **kwargs: Any) -> Any:
    """The codec frames the official `method` generates (at most `frames`) with `sampling`
    (a SamplingParams), recorded by a forward hook on the talker.

    The hook only records; it is removed before returning. `max_new_tokens=frames + 1`
    because the official path never expands its last token into a frame.
    """
    import torch

    recorded: list[torch.Tensor] = []

    def record(_module: Any, _args: Any, _kwargs: Any, output: Any) -> None:
        codes = output.hidden_states[1]
        if codes is not None:
            recorded.append(codes[0].clone())

    handle = tts.model.talker.register_forward_hook(record, with_kwargs=True)
    try:
        getattr(tts, method)(**kwargs, **(sampling.official_kwargs() | {"max_new_tokens": frames + 1}))
    finally:
        handle.remove()
    return torch.stack(recorded) if recorded else torch.empty((0, 16), dtype=torch.long)
