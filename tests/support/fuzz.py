"""Hypothesis strategies for hostile input: the protocol's own field names with values of every shape.

Tests use them with a fixed budget and `derandomize=True` (see FUZZ), so every run tries
the same examples, the suite stays fast, and a failure shrinks to a small replayable case.
"""

from __future__ import annotations

import math
import random
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

MESSAGE_TYPES = (
    "session.start", "context.start", "text", "flush", "cancel", "end", "ping", "session.end",
    "audio", "", "TEXT", "x" * 300,
)
SPEECH_FIELDS = (
    "model", "input", "voice", "response_format", "speed", "instructions", "stream_format", "mode", "language",
    "seed", "ref_audio", "ref_text", "x_vector_only", "sample_rate", "generation", "timestamps",
)
FIELDS = (
    "ctx", "text", "t", "mode", "model", "speaker", "instruct", "ref_audio", "ref_text",
    "x_vector_only", "language", "seed", "format", "sample_rate", "segmentation", "generation",
    "token", "temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens", "timestamps", "voice",
)
WORDS = ("main", "*", "tts-1", "alloy", "sse", "audio", "flac", "aac", "data:audio/wav;base64,AAAA", "file:x.wav",
         "custom_voice", "voice_clone", "voice_design", "hibari", "heart", "english", "auto",
         "pcm", "wav", "mp3", "opus", "line", "manual", "word", "none", "Hello there.", "你好。", "\u0000", "\ud7ff", " ")


def fuzz_settings(max_examples: int) -> settings:
    """A fixed, reproducible budget: the same examples every run, no per-example deadline (a real server answers)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


# Scalars at the edges of their ranges: huge and negative integers, NaN and infinities,
# arbitrary unicode (surrogates excluded: msgpack and JSON carry UTF-8), bytes, long strings.
integers = st.one_of(
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.sampled_from((0, -1, 1, 2**32 - 1, 2**32, 24000, 48000, 7)),
)
texts = st.one_of(st.text(max_size=40), st.sampled_from(WORDS), st.just("a" * 5000))
scalars = st.one_of(
    st.none(), st.booleans(), integers, st.floats(allow_nan=True, allow_infinity=True), texts, st.binary(max_size=64)
)


def values(keys: st.SearchStrategy[Any] = st.sampled_from(FIELDS) | st.text(max_size=8)) -> st.SearchStrategy[Any]:
    """Any msgpack value: scalars, and lists and maps of them a few levels deep."""
    return st.recursive(
        scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=8
    )


def messages(types: tuple[str, ...] = MESSAGE_TYPES) -> st.SearchStrategy[dict[Any, Any]]:
    """A map with a `type` (usually a real one) and any of the protocol's fields, each with a value of any shape."""
    return st.fixed_dictionaries(
        {"type": st.sampled_from(types) | values()},
        optional={name: values() for name in FIELDS} | {1: values(), b"key": values()},  # keys that are not strings
    )


def value(rng: random.Random, depth: int = 0) -> Any:
    """One msgpack value of a random shape from a seeded `random.Random`, for loops that need no shrinking.

    The same shapes as `values()` (scalars at the edges of their ranges, strings, bytes, nesting);
    prefer the hypothesis strategies for new tests.
    """
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


# -- JSON (HTTP bodies) ---------------------------------------------------------------------------
json_scalars = st.one_of(
    st.none(), st.booleans(), integers, st.integers(min_value=10**40, max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False), texts,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(SPEECH_FIELDS) | st.text(max_size=8), inner, max_size=4),
    max_leaves=8,
)
VALID_SPEECH = {"model": "tts-1", "input": "Hello there.", "voice": "alloy", "response_format": "pcm"}


@st.composite
def speech_bodies(draw: st.DrawFn) -> Any:
    """A /v1/audio/speech body: a valid one with a few fields changed or dropped, sometimes not a map at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(json_values)
    body: dict[str, Any] = dict(VALID_SPEECH)
    for name in draw(st.lists(st.sampled_from(SPEECH_FIELDS), max_size=3, unique=True)):
        if draw(st.integers(0, 6)) == 0:
            body.pop(name, None)
        else:
            body[name] = draw(json_values)
    return body


# Raw bodies JSON cannot express: digit runs past Python's int-string limit, NaN, bad UTF-8, NUL bytes.
RAW_BODY_TEMPLATES = (
    b'{"model": "tts-1", "input": "Hi.", "voice": "alloy", "seed": %s}',
    b'{"model": "tts-1", "input": "Hi.", "voice": "alloy", "speed": %s}',
    b'{"model": "tts-1", "input": "Hi.", "voice": "alloy", "x": [%s]}',
    b'[%s]',
    b'%s',
)
raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.builds(
        lambda template, filler: template % filler,
        st.sampled_from(RAW_BODY_TEMPLATES),
        st.one_of(
            st.integers(4000, 6000).map(lambda n: b"9" * n),
            st.sampled_from((b"NaN", b"-Infinity", b"1e999999", b"\xff\xfe", b"\x00", b'"\\ud800"', b"-" + b"1" * 5000)),
            st.binary(max_size=40),
        ),
    ),
)
# Header values a client can put on the wire (latin-1, no line breaks).
header_values = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=300
)
