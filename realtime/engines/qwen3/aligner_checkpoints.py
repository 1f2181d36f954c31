"""Qwen3-ForcedAligner checkpoint directories, told apart from TTS ones by their config.json. Pure file reading.

The released aligner (`Qwen/Qwen3-ForcedAligner-0.6B`) is a Qwen3-ASR model whose
`config.json` says `model_type: "qwen3_asr"` and whose `thinker_config.model_type` names
the forced aligner (`qwen3_forced_aligner`: the text head classifies a timestamp slot into
time steps instead of predicting tokens). A Qwen3-ASR speech recogniser shares the top-level
type but not the thinker's, and is not an aligner. The model manager loads an aligner lazily
like a TTS checkpoint, from the same models directory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from realtime.engines.qwen3.checkpoints import CheckpointError, read_config

log = logging.getLogger(__name__)

QWEN3_ASR_MODEL_TYPE = "qwen3_asr"
FORCED_ALIGNER_MARK = "forced_aligner"  # in thinker_config.model_type, as qwen-asr itself tests it
# Files `Qwen3ForcedAligner.from_pretrained` reads besides config.json; any one of each group will do.
ALIGNER_FILES = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("preprocessor_config.json",),
    ("tokenizer_config.json",),
    ("vocab.json", "tokenizer.json"),
)


@dataclass(frozen=True, slots=True)
class AlignerCheckpoint:
    """One forced-aligner directory, described from its config.json without loading it."""

    name: str
    path: Path
    languages: tuple[str, ...]  # lower-case, as the config lists them (empty when it does not say)


def is_aligner_config(config: dict[str, Any]) -> bool:
    """A Qwen3-ASR config whose thinker is the forced aligner."""
    thinker = config.get("thinker_config")
    return (
        config.get("model_type") == QWEN3_ASR_MODEL_TYPE
        and isinstance(thinker, dict)
        and FORCED_ALIGNER_MARK in str(thinker.get("model_type", ""))
    )


def read_aligner_checkpoint(path: Path, config: dict[str, Any] | None = None) -> AlignerCheckpoint | None:
    """The aligner in `path`, None when its config.json describes another model; CheckpointError when broken."""
    path = Path(path)
    config = read_config(path) if config is None else config
    if not is_aligner_config(config):
        return None
    for key in ("timestamp_token_id", "timestamp_segment_time"):
        if not isinstance(config.get(key), (int, float)) or isinstance(config.get(key), bool):
            raise CheckpointError(f"{path / 'config.json'}: {key} is missing or not a number")
    languages = config.get("support_languages") or []
    if not isinstance(languages, list) or not all(isinstance(lang, str) for lang in languages):
        raise CheckpointError(f"{path / 'config.json'}: support_languages must be a list of language names")
    missing = [group[0] for group in ALIGNER_FILES if not any((path / name).is_file() for name in group)]
    if missing:
        raise CheckpointError(f"incomplete aligner checkpoint, missing {', '.join(missing)} (download it again)")
    return AlignerCheckpoint(name=path.name, path=path, languages=tuple(lang.lower() for lang in languages))


def find_aligner(models_dir: Path) -> AlignerCheckpoint | None:
    """The first readable forced-aligner checkpoint directly under `models_dir` (by name); broken ones are skipped with a warning."""
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return None
    for path in sorted(p for p in models_dir.iterdir() if p.is_dir() and (p / "config.json").is_file()):
        try:
            config = read_config(path)
        except CheckpointError as exc:  # unreadable: the TTS checkpoint scan already warns about it
            log.debug("skipping %s: %s", path, exc)
            continue
        try:
            found = read_aligner_checkpoint(path, config)
        except CheckpointError as exc:
            log.warning("skipping %s: %s", path, exc)
            continue
        if found is not None:
            return found
    return None
