"""Assertions on `words` messages as a client sees them (shared by the socket, HTTP and Qwen3 tests)."""

from __future__ import annotations

from typing import Any

from realtime.words.splitter import split_words
from tests.support.stream_checks import of_ctx

WORD_KEYS = {"text", "start_ms", "end_ms", "char_start", "char_end"}
MS_TOLERANCE = 1e-6


def check_word_list(words: list[dict[str, Any]], text: str, start_ms: float, end_ms: float) -> None:
    """Every word of `text` in order, offsets into it, times in order, no overlap, inside [start_ms, end_ms]."""
    expected = split_words(text)
    assert [(w["text"], w["char_start"], w["char_end"]) for w in words] == [
        (s.text, s.char_start, s.char_end) for s in expected
    ], (words, text)
    floor = start_ms
    for word in words:
        assert set(word) == WORD_KEYS, word
        assert text[word["char_start"] : word["char_end"]] == word["text"]
        assert floor - MS_TOLERANCE <= word["start_ms"] <= word["end_ms"] <= end_ms + MS_TOLERANCE, (word, start_ms, end_ms)
        floor = word["end_ms"]


def check_words(messages: list[dict[str, Any]], ctx: str = "main") -> dict[int, dict[str, Any]]:
    """One context's stream: each segment whose audio ended has exactly one `words`, right after that audio.

    "Right after": after the segment's `segment_end` chunk, before the context's next `segment`,
    `flushed` or `done`, with only audio-less messages of the context between; after a
    `cancelled`, none.
    Returns the words messages by segment.
    """
    own = of_ctx(messages, ctx)
    segments = {m["segment"]: m for m in own if m["type"] == "segment"}
    by_segment: dict[int, dict[str, Any]] = {}
    open_segment: int | None = None  # a segment whose last audio went and whose words are due
    span: dict[int, list[float]] = {}
    for message in own:
        kind = message["type"]
        if kind == "audio":
            assert open_segment is None, f"audio after segment {open_segment}'s end before its words: {message}"
            if message["duration_ms"] == 0 and not message["segment_end"]:
                continue  # the closing chunk of a context: no segment's audio
            bounds = span.setdefault(message["segment"], [message["timestamp_ms"], message["timestamp_ms"]])
            bounds[1] = message["timestamp_ms"] + message["duration_ms"]
            if message["segment_end"]:
                open_segment = message["segment"]
        elif kind == "words":
            assert message["segment"] == open_segment, (message, open_segment)
            assert message["segment"] not in by_segment
            by_segment[message["segment"]] = message
            open_segment = None
        elif kind == "cancelled":
            open_segment = None  # words still being timed at a cancel are dropped: none follow it
        elif kind in ("segment", "flushed", "done"):
            assert open_segment is None, f"{kind} before the words of segment {open_segment}"
    for index, message in by_segment.items():
        assert isinstance(message["source"], str) and message["source"]
        start_ms, end_ms = span[index]
        check_word_list(message["words"], segments[index]["text"], start_ms, end_ms)
    return by_segment
