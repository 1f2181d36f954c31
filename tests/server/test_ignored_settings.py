"""Settings the model cannot use are ignored with a `notice`, never refused; what cannot be served still is."""

from __future__ import annotations

from typing import Any

from tests.conftest import run
from tests.support.stream_checks import audio_bytes
from tests.support.wire_checks import expect_fatal
from tests.wire import Wire

LINE = "Hello there."


async def speak(url: str, start: dict[str, Any], context: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """session.start (and a context.start for ctx "b" when given), one line per context; messages to the last done."""
    wire = await Wire.open(url)
    try:
        await wire.start(**start)
        contexts = ["main"]
        if context is not None:
            await wire.send({"type": "context.start", "ctx": "b", **context})
            contexts.append("b")
        for ctx in contexts:
            await wire.send({"type": "text", "ctx": ctx, "text": LINE})
            await wire.send({"type": "end", "ctx": ctx})
        messages: list[dict[str, Any]] = []
        while len([m for m in messages if m["type"] == "done"]) < len(contexts):
            messages += await wire.until(lambda m: m["type"] in ("done", "error"))
            assert messages[-1]["type"] == "done", messages[-1]
        return messages
    finally:
        await wire.close()


def test_instruct_and_generation_on_the_embedded_engine_give_audio_and_notices(server) -> None:
    messages = run(speak(
        server.url,
        {"seed": 4, "format": "pcm", "instruct": "cheerful", "generation": {"temperature": 0.7}},
        {"instruct": "whisper it"},
    ))
    notices = [m for m in messages if m["type"] == "notice"]
    assert [n.get("ctx") for n in notices] == [None, None, "b", "b"]  # the context inherits the generation settings
    for instruct, generation in (notices[0:2], notices[2:4]):
        assert "`instruct` (`instructions` over HTTP) is ignored" in instruct["message"]
        assert "temperature" in generation["message"] and "ignored" in generation["message"]
    assert not any(m["type"] == "error" for m in messages)
    plain = run(speak(server.url, {"seed": 4, "format": "pcm"}))
    assert not any(m["type"] == "notice" for m in plain)
    for ctx in ("main", "b"):  # ignored means ignored: the same audio as without the settings
        assert audio_bytes(messages, ctx) == audio_bytes(plain, "main")


def test_what_cannot_be_served_is_still_refused(server) -> None:
    async def refused(fields: dict[str, Any], code: int) -> dict[str, Any]:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", **fields})
        return await expect_fatal(wire, code)

    assert "heart" in run(refused({"speaker": "nobody"}, 4104))["message"]  # a voice that does not exist
    assert "English" in run(refused({"language": "german"}, 4000))["message"]  # a language it cannot speak
    assert "m4a" in run(refused({"format": "m4a"}, 4000))["message"]  # a format we cannot encode
