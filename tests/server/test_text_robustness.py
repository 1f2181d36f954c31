"""No text ends a context: digit runs, emoji, controls and mixed scripts are spoken, from the client's side."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import run
from tests.support.fuzz import fuzz_settings
from tests.support.http_checks import post_speech
from tests.wire import Wire, audio_of

BROKE_HIBARI = "My number is " + "1234567890" * 4 + ", call me."  # 40 digits: "list index out of range" before


def test_a_40_digit_number_is_spoken_and_segment_text_is_what_the_engine_was_given(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        raw = "\u200bHi \U0001f642 there. " + BROKE_HIBARI
        await wire.send({"type": "text", "text": raw})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        assert not [m for m in messages if m["type"] in ("error", "notice")], messages
        assert messages[-1]["reason"] == "end"
        segments = [m for m in messages if m["type"] == "segment"]
        assert segments[0]["text"] == "Hi there."  # normalized: what the engine spoke
        assert raw[segments[0]["char_start"]:segments[0]["char_end"]].strip() == "\u200bHi \U0001f642 there."
        last = segments[-1]
        assert "1 2 3 4, 5 6 7 8, 9 0 1 2" in last["text"]
        assert raw[last["char_start"]:last["char_end"]].strip() == BROKE_HIBARI  # offsets stay in the raw text
        assert sum(len(c["data"]) for c in audio_of(messages)) > 48000 * 3
        await wire.close()

    run(body())


def test_a_40_digit_number_over_http_is_audio(server) -> None:
    response = post_speech(server, {"model": "tts-1", "input": BROKE_HIBARI, "voice": "alloy", "response_format": "pcm"})
    assert response.status_code == 200 and len(response.content) > 48000 * 3


@fuzz_settings(max_examples=20)
@given(text=st.text(min_size=1, max_size=150) | st.from_regex(r"[0-9][0-9,. ]{36,60}", fullmatch=True))
def test_any_text_is_spoken_without_an_error(server, text: str) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start()
        await wire.send({"type": "text", "text": text})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        assert messages[-1]["reason"] == "end", (text, messages)
        assert not [m for m in messages if m["type"] in ("error", "notice")], (text, messages)
        await wire.close()

    run(body())
