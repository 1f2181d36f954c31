"""Word timestamps over the real socket: `timestamps: "word"`, the `words` message, fallbacks and cancel."""

from __future__ import annotations

from typing import Any

from tests.conftest import run
from tests.support.stream_checks import check_timeline, of_ctx, ping_fence, synthesize, types_of
from tests.support.word_checks import check_words
from tests.support.wire_checks import expect_error, expect_fatal
from tests.wire import Wire, audio_of

ENGLISH = 'Hello there, friend! It costs 42 dollars, or 3.5% more in 1984. "Really?" she asked — twice.'


def _speak(url: str, text: str | list[str], **start: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    return run(synthesize(url, text, **start), timeout=90)


def test_every_segment_gets_its_words_right_after_its_last_audio(server) -> None:
    ready, messages = _speak(server.url, ENGLISH, timestamps="word", sample_rate=16000)
    assert ready["timestamps"] == "word"
    check_timeline(audio_of(messages), 16000)
    words = check_words(messages)
    segments = [m for m in messages if m["type"] == "segment"]
    assert len(segments) >= 3 and sorted(words) == [s["segment"] for s in segments]
    assert {m["source"] for m in words.values()} == {"pocketsphinx"}
    said = [w["text"] for m in words.values() for w in m["words"]]
    assert said == ENGLISH.replace(" —", "").split()


def test_words_count_the_sessions_sample_rate_and_format(server) -> None:
    for rate, format in ((8000, "wav"), (48000, "opus")):
        _, messages = _speak(server.url, "One two three. Four five six.", timestamps="word", sample_rate=rate, format=format)
        words = check_words(messages)
        assert len(words) == 2
        last_audio = audio_of(messages)[-1]
        assert words[1]["words"][-1]["end_ms"] <= last_audio["timestamp_ms"] + last_audio["duration_ms"]


def test_no_words_unless_asked(server) -> None:
    ready, messages = _speak(server.url, "Hello there. Goodbye.")
    assert ready["timestamps"] == "none"
    assert "words" not in types_of(messages)


def test_a_segment_the_aligner_cannot_align_gets_estimates_and_a_notice(server) -> None:
    _, messages = _speak(server.url, ["Hello there.\n", "Zyzzx plorbt qwvvn.\n"], timestamps="word", segmentation="line")
    words = check_words(messages)
    assert words[0]["source"] == "pocketsphinx"
    assert words[1]["source"] == "estimated"
    notices = [m for m in messages if m["type"] == "notice"]
    assert len(notices) == 1 and notices[0]["segment"] == 1 and "estimated" in notices[0]["message"]
    assert messages.index(notices[0]) < messages.index(words[1])
    assert not [m for m in messages if m["type"] == "error"]
    assert messages[-1]["reason"] == "end"


def test_text_the_engine_cannot_say_still_gets_every_word(server) -> None:
    """The embedded voice says nothing for CJK text: its words sit at the segment's (empty) place."""
    _, messages = _speak(server.url, ["Hi.\n", "你好，世界。\n"], timestamps="word", segmentation="line")
    words = check_words(messages)
    assert [w["text"] for w in words[1]["words"]] == ["你", "好，", "世", "界。"]
    assert words[1]["source"] == "estimated"


def test_context_start_turns_words_on_or_off_per_context(server) -> None:
    async def body() -> list[dict[str, Any]]:
        wire = await Wire.open(server.url)
        await wire.start(timestamps="word")
        await wire.send({"type": "context.start", "ctx": "quiet", "timestamps": "none"})
        await wire.send({"type": "context.start", "ctx": "loud", "timestamps": "word"})
        for ctx, line in (("main", "The gate is shut. Go home."), ("quiet", "Nothing to see."), ("loud", "Over here! Now.")):
            await wire.send({"type": "text", "ctx": ctx, "text": line})
        for ctx in ("main", "quiet", "loud"):
            await wire.send({"type": "end", "ctx": ctx})
        seen: set[str] = set()
        messages = await wire.until(lambda m: m["type"] == "done" and (seen.add(m["ctx"]) or len(seen) == 3))
        messages += await ping_fence(wire)
        await wire.close()
        return messages

    messages = run(body(), timeout=90)
    assert len(check_words(messages, "main")) == 2
    assert len(check_words(messages, "loud")) == 2
    assert "words" not in types_of(of_ctx(messages, "quiet"))


def test_a_bad_timestamps_value_is_refused(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", "timestamps": "char"})
        error = await expect_fatal(wire, 4000)
        assert "timestamps" in error["message"]
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "context.start", "ctx": "x", "timestamps": True})
        error = await expect_error(wire, 4100, ctx="x")
        assert "timestamps" in error["message"]
        await wire.close()

    run(body(), timeout=60)


def test_no_words_after_cancelled_and_none_for_a_cut_segment(server) -> None:
    text = " ".join(f"This is sentence number {n}, and it goes on for a while." for n in range(1, 30))

    async def body() -> list[dict[str, Any]]:
        wire = await Wire.open(server.url)
        await wire.start(timestamps="word")
        await wire.send({"type": "text", "text": text})
        await wire.send({"type": "end"})
        seen = await wire.until(lambda m: m["type"] == "words")
        # Stop reading audio: generation waits on the outbox mid-stream, then cancel.
        await wire.send({"type": "cancel"})
        seen += await wire.until_done()
        seen += await ping_fence(wire)
        await wire.close()
        return seen

    messages = run(body(), timeout=90)
    done = [m for m in messages if m["type"] == "done"][0]
    assert done["reason"] == "cancelled"
    cancelled_at = types_of(messages).index("cancelled")
    assert "words" not in types_of(messages[cancelled_at:])
    words = check_words(messages)
    ended = {m["segment"] for m in audio_of(messages) if m["segment_end"]}
    # Words for each segment sent to its end (the last one's may have been dropped by the cancel
    # while it was being timed), none for the segment cut short.
    assert set(words) <= ended and len(ended - set(words)) <= 1 and len(words) >= 1
    started = {m["segment"] for m in messages if m["type"] == "segment"}
    assert len(started) < text.count(".")  # the cancel really cut the context short
