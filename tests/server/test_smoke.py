from __future__ import annotations

from tests.conftest import run
from tests.wire import Wire, audio_of


def test_text_then_end_streams_audio_and_done(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        ready = await wire.start(seed=1)
        assert ready["seed"] == 1
        await wire.send({"type": "text", "text": "Hello there."})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        chunks = audio_of(messages)
        assert chunks and chunks[-1]["is_last"]
        assert messages[-1]["reason"] == "end"
        await wire.close()

    run(body())


def test_text_sent_right_after_session_start_without_waiting_is_spoken(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.send({"type": "session.start", "seed": 5})
        await wire.send({"type": "text", "text": "No waiting for ready."})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        assert messages[0]["type"] == "session.ready"
        assert [m["text"] for m in messages if m["type"] == "segment"] == ["No waiting for ready."]
        assert audio_of(messages)[-1]["is_last"]
        await wire.close()

    run(body())
