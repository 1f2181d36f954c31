"""The Python client's word timestamps: the words of a context and the text heard by a playback position."""

from __future__ import annotations

from realtime.client import RealtimeClient, SpokenWords
from tests.conftest import run


def _segment(index: int, text: str, start: int) -> dict:
    return {"type": "segment", "ctx": "main", "segment": index, "text": text, "char_start": start, "char_end": start + len(text)}


def _words(index: int, *words: tuple[str, float, float, int]) -> dict:
    return {
        "type": "words", "ctx": "main", "segment": index, "source": "estimated",
        "words": [{"text": t, "start_ms": a, "end_ms": b, "char_start": c, "char_end": c + len(t)} for t, a, b, c in words],
    }


def _spoken() -> SpokenWords:
    spoken = SpokenWords()
    for message in (
        _segment(0, "Hello there,", 0),
        _words(0, ("Hello", 100.0, 400.0, 0), ("there,", 400.0, 700.0, 6)),
        {"type": "segment", "ctx": "other", "segment": 0, "text": "Elsewhere.", "char_start": 0, "char_end": 10},
        _segment(1, "friend.", 13),
        _words(1, ("friend.", 900.0, 1300.0, 0)),
    ):
        spoken.observe(message)
    return spoken


def test_heard_text_holds_only_whole_words_played() -> None:
    spoken = _spoken()
    assert spoken.heard_text(0) == ""
    assert spoken.heard_text(399.9) == ""
    assert spoken.heard_text(400.0) == "Hello"
    assert spoken.heard_text(800.0) == "Hello there,"
    assert spoken.heard_text(1299.0) == "Hello there,"
    assert spoken.heard_text(5000.0) == "Hello there, friend."


def test_words_carry_offsets_into_the_whole_text_and_the_word_at_a_time() -> None:
    spoken = _spoken()
    assert [(w.text, w.char_start, w.char_end) for w in spoken.words] == [
        ("Hello", 0, 5), ("there,", 6, 12), ("friend.", 13, 20),
    ]
    assert spoken.word_at(450.0).text == "there,"  # type: ignore[union-attr]
    assert spoken.word_at(800.0) is None  # the pause between segments


def test_heard_text_never_passes_a_segment_whose_words_are_unknown() -> None:
    spoken = SpokenWords()
    spoken.observe(_segment(0, "One.", 0))
    spoken.observe(_segment(1, "Two.", 5))  # its words never came (a cancel dropped them)
    spoken.observe(_words(0, ("One.", 0.0, 300.0, 0)))
    assert spoken.heard_text(10_000.0) == "One."


def test_the_client_reads_heard_text_from_a_real_stream(server) -> None:
    text = "Good morning, everyone. The train leaves at 9 tonight."

    async def body():  # type: ignore[no-untyped-def]
        async with await RealtimeClient.connect(server.url, timestamps="word", seed=5) as client:
            return await client.synthesize(text)

    result = run(body(), timeout=60)
    spoken = result.spoken()
    assert " ".join(w.text for w in spoken.words) == text
    assert all(text[w.char_start : w.char_end] == w.text for w in spoken.words)
    assert result.heard_text(0.0) == ""
    assert result.heard_text(result.done["audio_ms"]) == text
    middle = spoken.words[4]
    assert result.heard_text((middle.start_ms + middle.end_ms) / 2) == text[: spoken.words[3].char_end]
