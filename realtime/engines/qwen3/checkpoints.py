"""Qwen3-TTS checkpoint directories: what each one is and serves, read from its config.json.

Pure file reading (no torch): the server lists models and validates requests before any
model is loaded. A directory is a checkpoint when it holds a `config.json` whose
`model_type` is `qwen3_tts`; its kind comes from `tts_model_type`, or, for a config that
lacks it, from the released directory names (`*voice-design*`, `*custom-voice*`, else base).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MODEL_TYPES = ("base", "custom_voice", "voice_design")
# The protocol mode each kind of checkpoint serves.
MODE_OF_MODEL_TYPE = {"base": "voice_clone", "custom_voice": "custom_voice", "voice_design": "voice_design"}
SIZES = {"0b6": "0.6B", "1b7": "1.7B"}
SAMPLE_RATE = 24000
QWEN3_TTS_MODEL_TYPE = "qwen3_tts"


class CheckpointError(ValueError):
    """A directory that claims to be a Qwen3-TTS checkpoint but cannot be read as one."""


class NotQwen3Checkpoint(CheckpointError):
    """A model directory of another kind (its config.json names another model_type)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint directory, described from its config.json without loading it."""

    name: str
    path: Path
    model_type: str  # base | custom_voice | voice_design
    size: str  # tts_model_size: "0b6" or "1b7" ("" when the config does not say)
    speakers: tuple[str, ...]  # custom_voice only, lower-case, sorted
    languages: tuple[str, ...]  # "auto" first, then the config's languages (no dialect ids)
    accepts_instruct: bool
    notice: str | None = None  # something the user should know, e.g. an instruct that is ignored

    @property
    def mode(self) -> str:
        """The protocol mode (`voice_clone`, `custom_voice`, `voice_design`) it serves."""
        return MODE_OF_MODEL_TYPE[self.model_type]


def model_type_from_path(path: Path) -> str:
    """The released repos' naming convention: ...-VoiceDesign, ...-CustomVoice, else Base."""
    name = path.name.lower().replace("_", "-")
    if "voice-design" in name or "voicedesign" in name:
        return "voice_design"
    if "custom-voice" in name or "customvoice" in name:
        return "custom_voice"
    return "base"


def read_config(path: Path) -> dict[str, Any]:
    config_file = path / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{config_file}: cannot be read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{config_file}: not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise CheckpointError(f"{config_file}: expected a JSON object, found {type(config).__name__}")
    return config


def _id_map(talker: dict[str, Any], key: str, config_file: Path) -> dict[str, Any]:
    value = talker.get(key) or {}
    if not isinstance(value, dict):
        raise CheckpointError(f"{config_file}: talker_config.{key} must be an object mapping names to ids")
    return value


# Files the official loader needs besides config.json; any one of each group will do.
REQUIRED_FILES = (
    ("model.safetensors", "model.safetensors.index.json"),
    ("generation_config.json",),
    ("tokenizer_config.json",),
    ("speech_tokenizer/config.json",),
    ("speech_tokenizer/model.safetensors", "speech_tokenizer/model.safetensors.index.json"),
)


def missing_files(path: Path) -> list[str]:
    """The files of the released layout that `path` lacks (an interrupted download, typically)."""
    return [group[0] for group in REQUIRED_FILES if not any((path / name).is_file() for name in group)]


def read_checkpoint(path: Path) -> Checkpoint:
    """Describe the checkpoint in `path` from its config.json; `CheckpointError` says what is wrong with it.

    Only config.json is read: `find_checkpoints` also checks that the other files are there.
    """
    path = Path(path)
    config_file = path / "config.json"
    config = read_config(path)
    if config.get("model_type", QWEN3_TTS_MODEL_TYPE) != QWEN3_TTS_MODEL_TYPE:
        raise NotQwen3Checkpoint(f"{config_file}: model_type is {config.get('model_type')!r}, not {QWEN3_TTS_MODEL_TYPE!r}")
    model_type = config.get("tts_model_type") or model_type_from_path(path)
    if model_type not in MODEL_TYPES:
        raise CheckpointError(f"{config_file}: tts_model_type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    size = config.get("tts_model_size") or ""
    if not isinstance(size, str):
        raise CheckpointError(f"{config_file}: tts_model_size must be a string such as '0b6' or '1b7'")
    talker = config.get("talker_config")
    if not isinstance(talker, dict):
        raise CheckpointError(f"{config_file}: talker_config is missing or not an object")
    speakers = _id_map(talker, "spk_id", config_file) if model_type == "custom_voice" else {}
    language_ids = _id_map(talker, "codec_language_id", config_file)
    languages = ("auto", *sorted(lang.lower() for lang in language_ids if "dialect" not in lang))
    notice = None
    if model_type == "voice_design":
        accepts_instruct = True
    elif model_type == "custom_voice" and size != "0b6":
        accepts_instruct = True
    else:
        accepts_instruct = False
        if model_type == "custom_voice":
            notice = f"{path.name} is a 0.6B CustomVoice model: it ignores `instruct` (the 1.7B CustomVoice follows it)"
    return Checkpoint(
        name=path.name,
        path=path,
        model_type=model_type,
        size=size,
        speakers=tuple(sorted(s.lower() for s in speakers)),
        languages=languages,
        accepts_instruct=accepts_instruct,
        notice=notice,
    )


def find_checkpoints(models_dir: Path) -> list[Checkpoint]:
    """Every readable checkpoint directly under `models_dir`, sorted by name.

    Directories without a config.json (or whose config is another kind of model) are
    skipped with a debug log; a broken Qwen3-TTS config, or a checkpoint lacking files
    (an interrupted download), is skipped with a warning that says why, so one bad
    download does not stop the server.
    """
    models_dir = Path(models_dir)
    if not models_dir.is_dir():
        return []
    found = []
    for path in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        if not (path / "config.json").is_file():
            log.debug("%s: no config.json, not a checkpoint", path)
            continue
        try:
            checkpoint = read_checkpoint(path)
            missing = missing_files(path)
            if missing:
                raise CheckpointError(f"incomplete checkpoint, missing {', '.join(missing)} (download it again)")
            found.append(checkpoint)
        except NotQwen3Checkpoint as exc:
            log.debug("skipping %s: %s", path, exc)
        except CheckpointError as exc:
            log.warning("skipping %s: %s", path, exc)
    return found
