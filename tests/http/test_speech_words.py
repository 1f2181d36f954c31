"""Word timestamps over HTTP: `"timestamps": "word"` with SSE gives a `speech.audio.words` event per segment."""

from __future__ import annotations

import base64

from tests.conftest import run
from tests.support.http_checks import openai_error, post_speech, sse_audio, sse_events
from tests.support.word_checks import check_word_list
from tests.wire import Wire, joined_audio

TEXT = "Hello there, friend. It costs 42 dollars! Zyzzx plorbt qwvvn."


def _speak(server, **fields):  # type: ignore[no-untyped-def]
    body = {"model": "tts-1", "voice": "alloy", "input": TEXT, "response_format": "pcm", "stream_format": "sse",
            "timestamps": "word", **fields}
    response = post_speech(server, body)
    assert response.status_code == 200, response.text
    return sse_events(response.content)


def test_each_segment_has_its_words_after_its_audio(server) -> None:
    events = _speak(server, sample_rate=16000)
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "speech.audio.done"
    words = [e for e in events if e["type"] == "speech.audio.words"]
    assert [e["segment"] for e in words] == list(range(len(words))) and len(words) == 4
    position_ms = 0.0
    for event in events:
        if event["type"] == "speech.audio.delta":
            position_ms += len(base64.b64decode(event["audio"])) / 2 * 1000.0 / 16000
        elif event["type"] == "speech.audio.words":
            assert TEXT[event["char_start"] : event["char_end"]] == event["text"]
            start_ms = words[event["segment"] - 1]["words"][-1]["end_ms"] if event["segment"] else 0.0
            check_word_list(event["words"], event["text"], start_ms, position_ms)  # inside the audio sent so far
    assert [e["source"] for e in words] == ["pocketsphinx"] * 3 + ["estimated"]
    assert "notice" in words[3] and "estimated" in words[3]["notice"]
    assert len(sse_audio(events)) / 2 / 16000 * 1000.0 >= words[-1]["words"][-1]["end_ms"]


def test_no_words_without_the_option(server) -> None:
    response = post_speech(server, {"model": "tts-1", "voice": "alloy", "input": "Hi there.", "stream_format": "sse",
                                    "response_format": "pcm"})
    assert "speech.audio.words" not in [e["type"] for e in sse_events(response.content)]


def test_word_timestamps_need_sse_and_a_known_value(server) -> None:
    response = post_speech(server, {"model": "tts-1", "voice": "alloy", "input": "Hi.", "timestamps": "word"})
    assert response.status_code == 400
    assert openai_error(response)["param"] == "timestamps"
    response = post_speech(server, {"model": "tts-1", "voice": "alloy", "input": "Hi.", "stream_format": "sse",
                                    "timestamps": "chars"})
    assert response.status_code == 400
    assert "timestamps" in openai_error(response)["message"]


def test_words_follow_a_tempo_change(server) -> None:
    slow = _speak(server, input="One two three four five.")
    fast = _speak(server, input="One two three four five.", speed=2.0)
    slow_words = [e for e in slow if e["type"] == "speech.audio.words"][0]["words"]
    fast_words = [e for e in fast if e["type"] == "speech.audio.words"][0]["words"]
    fast_ms = len(sse_audio(fast)) / 2 * 1000.0 / 24000
    check_word_list(fast_words, "One two three four five.", 0.0, fast_ms)
    assert fast_words[-1]["end_ms"] < 0.75 * slow_words[-1]["end_ms"]


def test_both_doors_give_the_same_segments_words_and_audio(server) -> None:
    """One pipeline behind both doors: the same text and seed give the same bytes, segments and words.

    Word times are compared where both doors timed a segment the same way (an aligner past
    its wait budget on a loaded machine falls back to estimates, which is timing, not the path).
    """
    events = _speak(server, sample_rate=16000, seed=99)
    http_words = [e for e in events if e["type"] == "speech.audio.words"]

    async def over_the_socket() -> list[dict]:  # type: ignore[type-arg]
        wire = await Wire.open(server.url)
        await wire.start(seed=99, format="pcm", sample_rate=16000, timestamps="word")
        await wire.send({"type": "text", "text": TEXT})
        await wire.send({"type": "end"})
        messages = await wire.until_done(timeout=60.0)
        await wire.close()
        return messages

    messages = run(over_the_socket())
    assert sse_audio(events) == joined_audio(messages)
    segments = [m for m in messages if m["type"] == "segment"]
    socket_words = [m for m in messages if m["type"] == "words"]
    assert len(segments) == len(socket_words) == len(http_words) == 4
    for segment, words, event in zip(segments, socket_words, http_words, strict=True):
        assert (event["segment"], event["text"], event["char_start"], event["char_end"]) == (
            segment["segment"], segment["text"], segment["char_start"], segment["char_end"]
        )
        assert [(w["text"], w["char_start"], w["char_end"]) for w in event["words"]] == [
            (w["text"], w["char_start"], w["char_end"]) for w in words["words"]
        ]
        if event["source"] == words["source"]:
            assert event["words"] == words["words"]
