"""Client message schemas and their validation. Pure: no I/O, no engine knowledge.

Validation collects every problem of a message before answering, so a client fixes
all its fields in one round trip. What only the engine can judge (is this speaker
known? can this model take an instruct?) is checked later by the backend.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from realtime.engines.voice_spec import GENERATION_RANGES, MODES, GenerationParams, VoiceSpec
from realtime.audio.formats import FORMATS, SAMPLE_RATES
from realtime.protocol.errors import ErrorCode, FieldError
from realtime.text.brief import brief, type_name

PROTOCOL_VERSION: Final = 1
SEGMENTATIONS: Final = ("auto", "line", "manual")
TIMESTAMPS: Final = ("none", "word")
DEFAULT_CTX: Final = "main"
ALL_CONTEXTS: Final = "*"
MAX_CTX_CHARS: Final = 128
MAX_SEED: Final = 2**32 - 1
MAX_SHORT_FIELD_CHARS: Final = 256
MAX_INSTRUCT_CHARS: Final = 2048
MAX_REF_TEXT_CHARS: Final = 2048
MAX_VOICE_ID_CHARS: Final = 64
# With `voice` (a saved voice's id) these must be absent: the saved voice is the speaker.
FIELDS_EXCLUDED_BY_VOICE: Final = ("speaker", "instruct", "ref_audio", "ref_text")

LANGUAGES: Final = (
    "auto", "chinese", "english", "french", "german", "italian",
    "japanese", "korean", "portuguese", "russian", "spanish",
)
LANGUAGE_ALIASES: Final = {
    "zh": "chinese", "en": "english", "fr": "french", "de": "german", "it": "italian",
    "ja": "japanese", "ko": "korean", "pt": "portuguese", "ru": "russian", "es": "spanish",
}

CLIENT_TYPES: Final = (
    "session.start", "context.start", "text", "flush", "cancel", "end", "ping", "session.end",
)
VOICE_FIELDS: Final = (
    "mode", "model", "voice", "speaker", "instruct", "ref_audio", "ref_text",
    "x_vector_only", "language", "seed", "generation",
)

@dataclass(frozen=True, slots=True)
class SessionStart:
    voice: VoiceSpec
    format: str = "pcm"
    sample_rate: int = 24000
    segmentation: Literal["auto", "line", "manual"] = "auto"
    timestamps: Literal["none", "word"] = "none"
    token: str | None = None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (isinstance(value, (int, float))) and not isinstance(value, bool)


class _Reader:
    """Reads optional fields from a message map, recording one FieldError per bad field."""

    def __init__(self, message: dict[Any, Any], prefix: str = "") -> None:
        self.message = message
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def fail(self, name: str, text: str, code: ErrorCode = ErrorCode.BAD_MESSAGE) -> None:
        self.errors.append(FieldError(self.prefix + name, text, code))

    def present(self, name: str) -> bool:
        return self.message.get(name) is not None

    def string(self, name: str, *, max_chars: int = MAX_SHORT_FIELD_CHARS, non_empty: bool = True) -> str | None:
        value = self.message.get(name)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(name, f"must be a string, got {type_name(value)}")
            return None
        if non_empty and not value.strip():
            self.fail(name, "must not be empty")
            return None
        if len(value) > max_chars:
            self.fail(name, f"is {len(value)} characters long; the limit is {max_chars}")
            return None
        return value

    def choice(self, name: str, choices: tuple[Any, ...], default: Any) -> Any:
        value = self.message.get(name)
        if value is None:
            return default
        # Same type as a choice, not only equal: 24000.0 or True are no sample rate (the encoders take ints).
        if not any(type(value) is type(choice) and value == choice for choice in choices):
            listed = ", ".join(str(c) for c in choices)
            self.fail(name, f"{brief(value)} is not one of: {listed}")
            return default
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.message.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(name, f"must be true or false, got {type_name(value)}")
            return default
        return value

    def binary(self, name: str, max_bytes: int) -> bytes | None:
        value = self.message.get(name)
        if value is None:
            return None
        if not isinstance(value, (bytes, bytearray)):
            self.fail(name, f"must be msgpack bin (raw audio file bytes), got {type_name(value)}")
            return None
        if len(value) > max_bytes:
            self.fail(name, f"is {len(value)} bytes; the limit is {max_bytes}", ErrorCode.BAD_REFERENCE_AUDIO)
            return None
        if not value:
            self.fail(name, "is empty", ErrorCode.BAD_REFERENCE_AUDIO)
            return None
        return bytes(value)

    def seed(self, name: str) -> int | None:
        value = self.message.get(name)
        if value is None:
            return None
        if not _is_int(value):
            self.fail(name, f"must be an integer 0..{MAX_SEED}, got {type_name(value)}")
            return None
        if not 0 <= value <= MAX_SEED:
            self.fail(name, f"{value} is out of range 0..{MAX_SEED}")
            return None
        return int(value)

    def language(self, name: str) -> str:
        value = self.string(name, max_chars=32)
        if value is None:
            return "auto"
        normalized = LANGUAGE_ALIASES.get(value.strip().lower(), value.strip().lower())
        if normalized not in LANGUAGES:
            self.fail(name, f"{value!r} is not a known language; known: {', '.join(LANGUAGES)}")
            return "auto"
        return normalized

    def generation(self, name: str) -> GenerationParams:
        value = self.message.get(name)
        if value is None:
            return GenerationParams()
        if not isinstance(value, dict):
            self.fail(name, f"must be a map, got {type_name(value)}")
            return GenerationParams()
        settings: dict[str, float | int | bool] = {}
        for key, setting in value.items():
            label = f"{name}.{key}"
            if key not in GENERATION_RANGES:
                self.fail(label, f"unknown setting; known: {', '.join(GENERATION_RANGES)}")
                continue
            if setting is None:
                continue
            kind, low, high = GENERATION_RANGES[key]
            if kind == "bool":
                if not isinstance(setting, bool):
                    self.fail(label, f"must be true or false, got {type_name(setting)}")
                    continue
                settings[key] = setting
                continue
            valid_type = _is_int(setting) if kind == "int" else _is_number(setting)
            if not valid_type:
                self.fail(label, f"must be {'an integer' if kind == 'int' else 'a number'}, got {type_name(setting)}")
                continue
            if not low <= setting <= high or setting != setting:
                self.fail(label, f"{setting} is out of range {low:g}..{high:g}")
                continue
            settings[key] = int(setting) if kind == "int" else float(setting)
        return GenerationParams(**settings)  # type: ignore[arg-type]


def _read_voice(reader: _Reader, base: VoiceSpec, max_reference_bytes: int) -> VoiceSpec:
    """The voice fields present in the message, over `base`."""
    message = reader.message
    changes: dict[str, Any] = {}
    if "mode" in message and message["mode"] is not None:
        changes["mode"] = reader.choice("mode", MODES, base.mode)
    for name in ("model", "speaker"):
        if reader.present(name):
            changes[name] = reader.string(name)
    if reader.present("instruct"):
        changes["instruct"] = reader.string("instruct", max_chars=MAX_INSTRUCT_CHARS)
    if reader.present("ref_text"):
        changes["ref_text"] = reader.string("ref_text", max_chars=MAX_REF_TEXT_CHARS)
    if reader.present("ref_audio"):
        changes["ref_audio"] = reader.binary("ref_audio", max_reference_bytes)
    if reader.present("x_vector_only"):
        changes["x_vector_only"] = reader.boolean("x_vector_only", base.x_vector_only)
    if reader.present("language"):
        changes["language"] = reader.language("language")
    if reader.present("seed"):
        changes["seed"] = reader.seed("seed")
    if reader.present("generation"):
        changes["generation"] = reader.generation("generation")
    if reader.present("voice"):
        changes["voice"] = reader.string("voice", max_chars=MAX_VOICE_ID_CHARS)
        _check_saved_voice_fields(reader)
    voice = replace(base, **changes)
    if voice.voice is not None:
        voice = replace(voice, mode="voice_clone")  # the saved voice fixes the mode; its model is bound later
    else:
        _check_mode_requirements(reader, voice)
    return voice


def _check_saved_voice_fields(reader: _Reader) -> None:
    """PROTOCOL.md: with `voice`, the fields that would name another speaker must be absent."""
    for name in FIELDS_EXCLUDED_BY_VOICE:
        if reader.present(name):
            reader.fail(name, "must be absent when voice (a saved voice) is given: the saved voice is the speaker")
    mode = reader.message.get("mode")
    if mode is not None and mode != "voice_clone":
        reader.fail("mode", f"a saved voice speaks in mode voice_clone; leave mode out (got {brief(mode)})")


def _check_mode_requirements(reader: _Reader, voice: VoiceSpec) -> None:
    """The per-mode rules of PROTOCOL.md that need no engine to judge."""
    if voice.mode == "voice_clone":
        if voice.ref_audio is None and not any(e.field.endswith("ref_audio") for e in reader.errors):
            reader.fail("ref_audio", "is required for mode voice_clone")
        if not voice.x_vector_only and voice.ref_text is None and not any(
            e.field.endswith("ref_text") for e in reader.errors
        ):
            reader.fail("ref_text", "is required for mode voice_clone unless x_vector_only is true")
    elif voice.mode == "voice_design":
        if voice.instruct is None and not any(e.field.endswith("instruct") for e in reader.errors):
            reader.fail("instruct", "is required for mode voice_design (the voice description)")


def parse_session_start(
    message: dict[Any, Any], *, max_reference_bytes: int
) -> tuple[SessionStart, list[FieldError]]:
    """Validate `session.start` all at once; the spec is only meaningful if no errors."""
    reader = _Reader(message)
    voice = _read_voice(reader, VoiceSpec(), max_reference_bytes)
    start = SessionStart(
        voice=voice,
        format=reader.choice("format", FORMATS, "pcm"),
        sample_rate=reader.choice("sample_rate", SAMPLE_RATES, 24000),
        segmentation=reader.choice("segmentation", SEGMENTATIONS, "auto"),
        timestamps=reader.choice("timestamps", TIMESTAMPS, "none"),
        token=reader.string("token", max_chars=1024) if reader.present("token") else None,
    )
    return start, reader.errors


def parse_timestamps(message: dict[Any, Any], default: str) -> tuple[str, list[FieldError]]:
    """`timestamps` of `context.start`: `none` or `word`, the session's choice when absent."""
    reader = _Reader(message)
    return reader.choice("timestamps", TIMESTAMPS, default), reader.errors


def parse_voice(fields: dict[Any, Any], *, max_reference_bytes: int) -> tuple[VoiceSpec, list[FieldError]]:
    """The voice fields alone (used by the backend's one-call facade, same rules as the socket)."""
    reader = _Reader(fields)
    voice = _read_voice(reader, VoiceSpec(), max_reference_bytes)
    return voice, reader.errors


def parse_context_overrides(
    message: dict[Any, Any], base: VoiceSpec, *, max_reference_bytes: int
) -> tuple[VoiceSpec, list[FieldError]]:
    """`context.start`: the session's voice with this context's overrides applied."""
    reader = _Reader(message)
    fresh = VoiceSpec(language=base.language, seed=base.seed, generation=base.generation, model=None)
    if "mode" in message and message.get("mode") != base.mode and message.get("mode") is not None:
        # A new mode starts from that mode's defaults rather than the session's speaker or instruct.
        base = fresh
    elif message.get("voice") is not None:
        base = fresh  # a saved voice replaces the session's voice whole
    elif base.voice is not None and any(
        message.get(name) is not None for name in ("mode", "model", *FIELDS_EXCLUDED_BY_VOICE)
    ):
        base = fresh  # the context names its own voice: the session's saved voice does not carry over
    voice = _read_voice(reader, base, max_reference_bytes)
    return voice, reader.errors


def parse_ctx(message: dict[Any, Any], *, allow_all: bool = False) -> tuple[str, list[FieldError]]:
    """The `ctx` field: a short non-empty string, `main` when absent."""
    value = message.get("ctx")
    if value is None:
        return DEFAULT_CTX, []
    if not isinstance(value, str):
        return DEFAULT_CTX, [FieldError("ctx", f"must be a string, got {type_name(value)}", ErrorCode.BAD_REQUEST)]
    if value == ALL_CONTEXTS and not allow_all:
        return DEFAULT_CTX, [FieldError("ctx", '"*" is only allowed in cancel', ErrorCode.BAD_REQUEST)]
    if not value or len(value) > MAX_CTX_CHARS:
        return DEFAULT_CTX, [
            FieldError("ctx", f"must be 1..{MAX_CTX_CHARS} characters", ErrorCode.BAD_REQUEST)
        ]
    return value, []


def message_type(message: Any) -> str | None:
    """The message's `type`, or None when the frame is not a map with a string type."""
    if not isinstance(message, dict):
        return None
    kind = message.get("type")
    return kind if isinstance(kind, str) else None
