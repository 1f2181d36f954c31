"""`POST /v1/audio/speech` request bodies: OpenAI's fields plus ours, validated all at once. Pure.

What the socket also has (mode, language, seed, ref_text, x_vector_only, generation,
and the voice rules of each mode) is left to the socket's own validation
(`protocol.messages.parse_voice`), so both doors judge a voice the same way. This
module checks what only HTTP has: OpenAI's fields and reference audio as text.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from dataclasses import dataclass, field
from typing import Any, Final

from realtime.audio.formats import FORMATS, SAMPLE_RATES
from realtime.http.errors import Problem
from realtime.protocol.messages import TIMESTAMPS
from realtime.text.brief import JSON_TYPE_NAMES, brief, type_name

OPENAI_FORMATS: Final = ("mp3", "opus", "aac", "flac", "wav", "pcm")
RESPONSE_FORMATS: Final = tuple(dict.fromkeys((*OPENAI_FORMATS, *FORMATS)))  # ours adds ogg (Vorbis)
STREAM_FORMATS: Final = ("audio", "sse")
DEFAULT_FORMAT: Final = "mp3"  # OpenAI's default
DEFAULT_SAMPLE_RATE: Final = 24000  # OpenAI's pcm is 24 kHz s16le mono
MIN_SPEED: Final = 0.25
MAX_SPEED: Final = 4.0
MAX_MODEL_CHARS: Final = 256
FILE_PREFIX: Final = "file:"
# Fields passed on, as they are, to the socket's voice validation.
PASSED_VOICE_FIELDS: Final = ("mode", "language", "seed", "ref_text", "x_vector_only", "generation")
_DATA_URI = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)(?P<b64>;base64)?,", re.I)


@dataclass(frozen=True, slots=True)
class SpeechRequest:
    """A speech request whose HTTP-only fields are valid; voice fields still go through parse_voice."""

    model: str
    input: str
    voice: str
    response_format: str = DEFAULT_FORMAT
    speed: float = 1.0
    instructions: str | None = None
    stream_format: str = "audio"
    timestamps: str = "none"  # "word": a speech.audio.words event per segment (SSE only)
    sample_rate: int = DEFAULT_SAMPLE_RATE
    ref_audio: bytes | None = field(default=None, repr=False)
    ref_audio_file: str | None = None  # a name under the operator's --ref-audio-dir
    voice_fields: dict[str, Any] = field(default_factory=dict)


class _Body:
    """Reads one field at a time, recording a Problem per bad field."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.problems: list[Problem] = []

    def fail(self, param: str, message: str, status: int = 400, code: str = "invalid_value") -> None:
        self.problems.append(Problem(param, message, status, code))

    def string(self, name: str, *, required: bool = False, max_chars: int, code: str = "invalid_value") -> str | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.fail(name, "is required", code="missing_required_parameter")
            return None
        if not isinstance(value, str):
            self.fail(name, f"must be a string, got {_json_type(value)}", code="invalid_type")
            return None
        if not value.strip():
            self.fail(name, "must not be empty", code="empty_string" if code == "invalid_value" else code)
            return None
        if len(value) > max_chars:
            self.fail(name, f"is {len(value)} characters long; the limit is {max_chars}", code="string_above_max_length")
            return None
        return value

    def choice(self, name: str, choices: tuple[Any, ...], default: Any) -> Any:
        value = self.body.get(name)
        if value is None:
            return default
        if not any(type(value) is type(c) and value == c for c in choices):
            self.fail(name, f"{_brief(value)} is not one of: {', '.join(str(c) for c in choices)}")
            return default
        return value


def _json_type(value: Any) -> str:
    return type_name(value, JSON_TYPE_NAMES)


def _brief(value: Any) -> str:
    return brief(value, 48, JSON_TYPE_NAMES)


def _read_voice(body: _Body) -> str:
    """`voice`: a name, or OpenAI's custom-voice object `{"id": name}`.

    Required as OpenAI requires it, except in the modes that have no speaker to name
    (voice_clone, voice_design), where it is ignored.
    """
    value = body.body.get("voice")
    if isinstance(value, dict):
        value = value.get("id")
        if not isinstance(value, str) or not value.strip():
            body.fail("voice", 'as an object must be {"id": "<voice name>"}')
            return ""
        body.body = {**body.body, "voice": value}
    required = body.body.get("mode") in (None, "custom_voice")
    return body.string("voice", required=required, max_chars=MAX_MODEL_CHARS) or ""


def _read_speed(body: _Body) -> float:
    value = body.body.get("speed")
    if value is None:
        return 1.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        body.fail("speed", f"must be a number, got {_json_type(value)}", code="invalid_type")
        return 1.0
    if not MIN_SPEED <= value <= MAX_SPEED:
        body.fail("speed", f"{value:g} is out of range {MIN_SPEED:g}..{MAX_SPEED:g}")
        return 1.0
    return float(value)


def decode_reference(value: str, max_bytes: int) -> tuple[bytes | None, str | None, Problem | None]:
    """`ref_audio` as text: base64, a base64 data URI, or `file:<name>`; (audio, file name, problem)."""
    text = value.strip()
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I):
        return None, None, Problem(
            "ref_audio", "URLs are not fetched; send the audio itself as base64 or a data URI"
        )
    if text.lower().startswith(FILE_PREFIX):
        name = text[len(FILE_PREFIX):].strip()
        if not name:
            return None, None, Problem("ref_audio", "file: needs a file name")
        return None, name, None
    if text.lower().startswith("data:"):
        match = _DATA_URI.match(text)
        if match is None or not match.group("b64"):
            return None, None, Problem("ref_audio", "a data URI must be base64: data:<mime>;base64,<data>")
        text = text[match.end():]
    # The decoded size is known from the length: refuse before decoding anything too large.
    approximate = len(text) * 3 // 4
    if approximate > max_bytes + 3:
        return None, None, Problem(
            "ref_audio", f"is about {approximate} bytes; the limit is {max_bytes}", 413, "reference_audio_too_large"
        )
    try:
        audio = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        return None, None, Problem("ref_audio", "is not valid base64 (send base64 or a base64 data URI)")
    if not audio:
        return None, None, Problem("ref_audio", "is empty", 422, "bad_reference_audio")
    if len(audio) > max_bytes:
        return None, None, Problem(
            "ref_audio", f"is {len(audio)} bytes; the limit is {max_bytes}", 413, "reference_audio_too_large"
        )
    return audio, None, None


def parse_speech_request(
    body: Any, *, max_input_chars: int, max_reference_bytes: int
) -> tuple[SpeechRequest | None, list[Problem]]:
    """Validate the body's HTTP-only fields all at once; the request is None when it is not an object."""
    if not isinstance(body, dict):
        return None, [Problem(None, f"the request body must be a JSON object, got {_json_type(body)}")]
    reader = _Body(body)
    model = reader.string("model", required=True, max_chars=MAX_MODEL_CHARS) or ""
    text = reader.string("input", required=True, max_chars=max_input_chars) or ""
    voice = _read_voice(reader)
    response_format = reader.choice("response_format", RESPONSE_FORMATS, DEFAULT_FORMAT)
    stream_format = reader.choice("stream_format", STREAM_FORMATS, "audio")
    sample_rate = reader.choice("sample_rate", SAMPLE_RATES, DEFAULT_SAMPLE_RATE)
    timestamps = reader.choice("timestamps", TIMESTAMPS, "none")
    if timestamps == "word" and stream_format != "sse":
        reader.fail("timestamps", 'word timestamps come as SSE events: set "stream_format": "sse"')
    speed = _read_speed(reader)
    instructions = reader.string("instructions", max_chars=2048)
    ref_audio = ref_file = None
    raw_reference = body.get("ref_audio")
    if raw_reference is not None:
        if isinstance(raw_reference, str) and raw_reference.strip():
            ref_audio, ref_file, problem = decode_reference(raw_reference, max_reference_bytes)
            if problem is not None:
                reader.problems.append(problem)
        else:
            reader.fail("ref_audio", "must be a base64 string or a base64 data URI")
    voice_fields = {name: body[name] for name in PASSED_VOICE_FIELDS if body.get(name) is not None}
    request = SpeechRequest(
        model=model, input=text, voice=voice, response_format=response_format, speed=speed,
        instructions=instructions, stream_format=stream_format, timestamps=timestamps, sample_rate=sample_rate,
        ref_audio=ref_audio, ref_audio_file=ref_file, voice_fields=voice_fields,
    )
    return request, reader.problems

