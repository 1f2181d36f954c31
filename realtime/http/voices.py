"""OpenAI's model and voice names mapped onto what this server serves. Pure.

OpenAI's model names (`tts-1`, `gpt-4o-mini-tts`...) mean "the server's default model
for the mode". OpenAI's voice names mean one of our speakers: each has a preferred
Qwen3-TTS speaker of a similar character; a model without that speaker (the embedded
engine has only `heart`) uses its first speaker. A name that is one of the model's own
speakers is used as it is; anything else is judged by the model (and refused, naming
the speakers it has).
"""

from __future__ import annotations

from typing import Any, Final

from realtime.engines.base import ModelInfo

OPENAI_MODELS: Final = frozenset(
    {"tts-1", "tts-1-hd", "gpt-4o-mini-tts", "gpt-4o-mini-tts-2025-03-20", "gpt-4o-mini-tts-2025-12-15"}
)
# OpenAI voice -> preferred Qwen3-TTS CustomVoice speaker.
OPENAI_VOICES: Final = {
    "alloy": "serena",  # neutral, warm
    "ash": "aiden",
    "ballad": "eric",
    "coral": "vivian",
    "echo": "ryan",
    "fable": "dylan",
    "onyx": "uncle_fu",  # deep
    "nova": "vivian",  # bright
    "sage": "serena",  # calm
    "shimmer": "sohee",
    "verse": "aiden",
    "marin": "ono_anna",
    "cedar": "ryan",
}


def resolve_model(name: str, served: list[str]) -> str | None:
    """The model to ask the backend for: ours by name; None (the mode's default) for OpenAI's names."""
    if name in served:
        return name
    if name in OPENAI_MODELS:
        return None
    return name  # unknown: the backend refuses it, listing what is served


def resolve_speaker(voice: str, info: ModelInfo | None) -> str:
    """One of the model's speakers for `voice` when it names one of ours or OpenAI's, else `voice` itself."""
    if info is None or not info.speakers:
        return voice
    by_lower = {speaker.lower(): speaker for speaker in info.speakers}
    lowered = voice.strip().lower()
    if lowered in by_lower:
        return by_lower[lowered]
    if lowered in OPENAI_VOICES:
        return by_lower.get(OPENAI_VOICES[lowered], info.speakers[0])
    return voice


def voice_aliases(info: ModelInfo) -> dict[str, str]:
    """What each OpenAI voice name means on this model (listed by GET /v1/audio/voices)."""
    if "custom_voice" not in info.modes or not info.speakers:
        return {}
    return {name: resolve_speaker(name, info) for name in OPENAI_VOICES}


def socket_voice_fields(
    *,
    model: str | None,
    speaker: str | None,
    instructions: str | None,
    ref_audio: bytes | None,
    passed: dict[str, Any],
) -> dict[str, Any]:
    """The fields of the socket's `session.start` that this request amounts to (absent ones left out)."""
    fields: dict[str, Any] = dict(passed)
    for name, value in (("model", model), ("speaker", speaker), ("instruct", instructions), ("ref_audio", ref_audio)):
        if value is not None:
            fields[name] = value
    return fields
