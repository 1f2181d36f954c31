"""Seeded random messages for robustness tests: the protocol's own field names with values of every shape.

No new dependency: a `random.Random` with a fixed seed makes every run the same, so a
failure replays exactly (the failing message is in the assertion).
"""

from __future__ import annotations

import math
import random
from typing import Any

MESSAGE_TYPES = (
    "session.start", "context.start", "text", "flush", "cancel", "end", "ping", "session.end",
    "audio", "", "TEXT", "x" * 300,
)
SPEECH_FIELDS = (
    "model", "input", "voice", "response_format", "speed", "instructions", "stream_format", "mode", "language",
    "seed", "ref_audio", "ref_text", "x_vector_only", "sample_rate", "generation", "timestamps",
)
FIELDS = (
    "type", "ctx", "text", "t", "mode", "model", "speaker", "instruct", "ref_audio", "ref_text",
    "x_vector_only", "language", "seed", "format", "sample_rate", "segmentation", "generation",
    "token", "timestamps", "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens",
)
WORDS = ("main", "*", "tts-1", "alloy", "sse", "audio", "flac", "aac", "data:audio/wav;base64,AAAA", "file:x.wav", "custom_voice", "voice_clone", "voice_design", "hibari", "heart", "english", "auto",
         "pcm", "wav", "mp3", "opus", "line", "manual", "word", "none", "Hello there.", "你好。", "\u0000", "\ud7ff", " ")


def value(rng: random.Random, depth: int = 0) -> Any:
    """One msgpack value of a random shape: scalars at the edges of their ranges, strings, bytes, nesting."""
    kind = rng.randrange(12 if depth < 2 else 9)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice((0, -1, 1, 2**32 - 1, 2**32, -(2**63), 2**64 - 1, 24000, 48000, 7))
    if kind == 3:
        return rng.choice((0.0, -0.0, 1e308, -1e-308, math.nan, math.inf, -math.inf, 0.5, 2.5))
    if kind in (4, 5):
        return rng.choice(WORDS)
    if kind == 6:
        return "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(0, 40)))
    if kind == 7:
        return rng.randbytes(rng.randrange(0, 64))
    if kind == 8:
        return "a" * rng.choice((0, 1, 4096, 5000))
    if kind == 9:
        return [value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    return {rng.choice(FIELDS): value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}


def message(rng: random.Random, types: tuple[str, ...] = MESSAGE_TYPES) -> dict[str, Any]:
    """A map with a `type` (usually a real one) and a few protocol fields with random values."""
    fields: dict[Any, Any] = {name: value(rng) for name in rng.sample(FIELDS[1:], rng.randrange(0, 6))}
    if rng.random() < 0.05:
        fields[rng.choice((1, b"key", 2.5))] = value(rng)  # keys that are not strings
    fields["type"] = rng.choice(types) if rng.random() < 0.95 else value(rng)
    return fields


def json_value(rng: random.Random, depth: int = 0) -> Any:
    """`value`, made JSON-shaped: bytes become text, map keys strings (NaN and infinities stay: bad JSON too)."""
    item = value(rng, depth)
    if isinstance(item, bytes):
        return item.hex()
    if isinstance(item, list):
        return [json_value(rng, depth + 1) for _ in item]
    if isinstance(item, dict):
        return {str(key): json_value(rng, depth + 1) for key in item}
    return item


VALID_SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"}


def speech_body(rng: random.Random) -> Any:
    """A /v1/audio/speech body: a valid one with 0-3 fields changed to random values, sometimes not a map."""
    if rng.random() < 0.05:
        return json_value(rng)
    body: dict[str, Any] = dict(VALID_SPEECH)
    for name in rng.sample(SPEECH_FIELDS, rng.randrange(0, 4)):
        if rng.random() < 0.15:
            body.pop(name, None)
        else:
            body[name] = json_value(rng)
    return body
