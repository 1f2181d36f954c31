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
