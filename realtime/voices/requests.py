"""What clients send to `/v1/voices`, validated all at once. Pure: no I/O, no engines.

A create body is exactly one of three kinds: reference audio (`ref_audio`, a clone), a
`design` (instruct + sample text, frozen), or a `blend` of saved voices. Names are
1-64 printable characters; blend weights are positive finite numbers.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Final

from realtime.protocol.messages import LANGUAGE_ALIASES, LANGUAGES, MAX_INSTRUCT_CHARS, MAX_REF_TEXT_CHARS, MAX_SEED

MAX_NAME_CHARS: Final = 64
MAX_SAMPLE_TEXT_CHARS: Final = 500
MAX_BLEND_PARTS: Final = 8
DEFAULT_PAGE: Final = 20
MAX_PAGE: Final = 100
VOICE_ID_PREFIX: Final = "voice_"


@dataclass(frozen=True, slots=True)
class Issue:
    """One bad field of a voices request (`param` as the client named it)."""

    param: str | None
    message: str


@dataclass(frozen=True, slots=True)
class CloneBody:
    name: str
    ref_audio: str = field(repr=False)  # base64, data URI or file: name; decoded by the HTTP door
    ref_text: str | None
    x_vector_only: bool
    model: str | None


@dataclass(frozen=True, slots=True)
class DesignBody:
    name: str
    instruct: str
    text: str
    language: str
    seed: int
    model: str | None


@dataclass(frozen=True, slots=True)
class BlendPart:
    voice: str
    weight: float


@dataclass(frozen=True, slots=True)
class BlendBody:
    name: str
    parts: tuple[BlendPart, ...]


CreateBody = CloneBody | DesignBody | BlendBody


def is_voice_id(value: str) -> bool:
    """Saved voices' ids carry a prefix no speaker name has, so `voice` on HTTP can mean either."""
    return value.startswith(VOICE_ID_PREFIX)


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def check_name(value: Any, issues: list[Issue], param: str = "name") -> str:
    """A voice name: a string of 1-64 characters, not blank, no control characters."""
    if value is None:
        issues.append(Issue(param, "is required"))
        return ""
    if not isinstance(value, str):
        issues.append(Issue(param, f"must be a string, got {_json_type(value)}"))
        return ""
    name = value.strip()
    if not name:
        issues.append(Issue(param, "must not be empty"))
    elif len(name) > MAX_NAME_CHARS:
        issues.append(Issue(param, f"is {len(name)} characters long; the limit is {MAX_NAME_CHARS}"))
    elif any(unicodedata.category(char).startswith("C") for char in name):
        issues.append(Issue(param, "must not contain control or unassigned characters"))
    return name


def _text(body: dict[str, Any], name: str, issues: list[Issue], *, max_chars: int, prefix: str = "") -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        issues.append(Issue(prefix + name, f"must be a string, got {_json_type(value)}"))
        return None
    if not value.strip():
        issues.append(Issue(prefix + name, "must not be empty"))
        return None
    if len(value) > max_chars:
        issues.append(Issue(prefix + name, f"is {len(value)} characters long; the limit is {max_chars}"))
        return None
    return value


def _language(body: dict[str, Any], issues: list[Issue], prefix: str) -> str:
    value = _text(body, "language", issues, max_chars=32, prefix=prefix)
    if value is None:
        return "auto"
    normalized = LANGUAGE_ALIASES.get(value.strip().lower(), value.strip().lower())
    if normalized not in LANGUAGES:
        issues.append(Issue(prefix + "language", f"{value!r} is not a known language; known: {', '.join(LANGUAGES)}"))
        return "auto"
    return normalized


def _clone(body: dict[str, Any], name: str, issues: list[Issue]) -> CloneBody:
    ref_audio = body.get("ref_audio")
    if not isinstance(ref_audio, str) or not ref_audio.strip():
        issues.append(Issue("ref_audio", "must be the audio file as base64 or a base64 data URI"))
        ref_audio = ""
    ref_text = _text(body, "ref_text", issues, max_chars=MAX_REF_TEXT_CHARS)
    x_vector_only = body.get("x_vector_only", False)
    if not isinstance(x_vector_only, bool):
        issues.append(Issue("x_vector_only", f"must be true or false, got {_json_type(x_vector_only)}"))
        x_vector_only = False
    judged = {i.param for i in issues}
    if not x_vector_only and ref_text is None and not judged & {"ref_text", "x_vector_only"}:
        issues.append(Issue("ref_text", "is required unless x_vector_only is true (it is the reference's transcript)"))
    model = _text(body, "model", issues, max_chars=256)
    return CloneBody(name, ref_audio, None if x_vector_only else ref_text, x_vector_only, model)


def _design(body: dict[str, Any], name: str, issues: list[Issue]) -> DesignBody:
    design = body.get("design")
    if not isinstance(design, dict):
        issues.append(Issue("design", f'must be an object {{"instruct", "text", "language"?, "seed"?}}, got {_json_type(design)}'))
        return DesignBody(name, "", "", "auto", 0, None)
    instruct = _text(design, "instruct", issues, max_chars=MAX_INSTRUCT_CHARS, prefix="design.")
    text = _text(design, "text", issues, max_chars=MAX_SAMPLE_TEXT_CHARS, prefix="design.")
    for required, value in (("instruct", instruct), ("text", text)):
        if value is None and f"design.{required}" not in {i.param for i in issues}:
            issues.append(Issue(f"design.{required}", "is required"))
    seed = design.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        issues.append(Issue("design.seed", f"must be an integer 0..{MAX_SEED}"))
        seed = 0
    model = _text(design, "model", issues, max_chars=256, prefix="design.")
    return DesignBody(name, instruct or "", text or "", _language(design, issues, "design."), int(seed), model)


def _blend(body: dict[str, Any], name: str, issues: list[Issue]) -> BlendBody:
    parts_in = body.get("blend")
    if not isinstance(parts_in, list) or not 2 <= len(parts_in) <= MAX_BLEND_PARTS:
        issues.append(Issue("blend", f'must be an array of 2..{MAX_BLEND_PARTS} {{"voice": "<id>", "weight": w}}'))
        return BlendBody(name, ())
    parts: list[BlendPart] = []
    for index, part in enumerate(parts_in):
        label = f"blend[{index}]"
        if not isinstance(part, dict):
            issues.append(Issue(label, f'must be an object {{"voice", "weight"}}, got {_json_type(part)}'))
            continue
        voice = part.get("voice")
        if not isinstance(voice, str) or not is_voice_id(voice) or len(voice) > 64:
            issues.append(Issue(f"{label}.voice", "must be a saved voice's id"))
            continue
        weight = part.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            issues.append(Issue(f"{label}.weight", "must be a number greater than 0"))
            continue
        parts.append(BlendPart(voice, float(weight)))
    if len({part.voice for part in parts}) != len(parts):
        issues.append(Issue("blend", "names a voice twice; give each voice once, with its weight"))
    return BlendBody(name, tuple(parts))


def parse_create(body: Any) -> tuple[CreateBody | None, list[Issue]]:
    """Validate a `POST /v1/voices` body; the body is None when nothing usable could be read."""
    if not isinstance(body, dict):
        return None, [Issue(None, f"the request body must be a JSON object, got {_json_type(body)}")]
    issues: list[Issue] = []
    name = check_name(body.get("name"), issues)
    kinds = [kind for kind in ("ref_audio", "design", "blend") if body.get(kind) is not None]
    if len(kinds) != 1:
        found = f"got {', '.join(kinds)}" if kinds else "got none"
        return None, [*issues, Issue(None, f"give exactly one of ref_audio (clone), design or blend; {found}")]
    reader = {"ref_audio": _clone, "design": _design, "blend": _blend}[kinds[0]]
    return reader(body, name, issues), issues


def parse_rename(body: Any) -> tuple[str, list[Issue]]:
    """`PATCH /v1/voices/{id}`: `{"name": "<new name>"}`."""
    if not isinstance(body, dict):
        return "", [Issue(None, f"the request body must be a JSON object, got {_json_type(body)}")]
    issues: list[Issue] = []
    name = check_name(body.get("name"), issues)
    return name, issues


def parse_page(limit: str | None, after: str | None) -> tuple[int, str | None, list[Issue]]:
    """`?limit=1..100` (default 20) and `?after=<id>` of a listing."""
    issues: list[Issue] = []
    size = DEFAULT_PAGE
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE:
            issues.append(Issue("limit", f"must be an integer 1..{MAX_PAGE}"))
        else:
            size = int(limit)
    if after is not None and (not is_voice_id(after) or len(after) > 64):
        issues.append(Issue("after", "must be a voice id from an earlier page"))
        after = None
    return size, after, issues
