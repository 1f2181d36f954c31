"""session.end: every context finishes, the session keeps answering meanwhile, then closes 1000."""

from __future__ import annotations

from tests.conftest import run
from tests.wire import Wire, audio_of

LONG = " ".join(f"Sentence number {n} is here." for n in range(12))


def test_session_end_answers_pings_and_refuses_new_work_while_contexts_finish(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=3)
        await wire.send({"type": "text", "text": LONG, "ctx": "a"})
        await wire.send({"type": "session.end"})
        await wire.send({"type": "ping", "t": 42})
        await wire.send({"type": "text", "text": "Too late.", "ctx": "b"})
        messages, code = await wire.closed_with()
        assert code == 1000
        assert {"type": "pong", "t": 42} in messages
        refused = [m for m in messages if m["type"] == "error"]
        assert len(refused) == 1 and refused[0]["code"] == 4100 and "ending" in refused[0]["message"]
        assert not refused[0]["fatal"]
        chunks = audio_of(messages, "a")
        assert [c["is_last"] for c in chunks].count(True) == 1 and chunks[-1]["is_last"]
        assert [m for m in messages if m["type"] == "done"][0]["reason"] == "end"
        assert not [m for m in messages if m.get("ctx") == "b" and m["type"] != "error"]

    run(body())


def test_a_refused_first_text_opens_no_context(make_server) -> None:
    running = make_server(limits=dict(max_contexts=1, max_buffered_chars=20, max_text_chars=100))

    async def body() -> None:
        wire = await Wire.open(running.url)
        await wire.start(seed=3)
        await wire.send({"type": "text", "text": "x" * 30, "ctx": "a"})
        error = await wire.recv()
        assert (error["code"], error["ctx"]) == (4102, "a")
        await wire.send({"type": "text", "text": "Hi.", "ctx": "b"})  # "a" holds no slot
        await wire.send({"type": "end", "ctx": "b"})
        messages = await wire.until_done("b")
        assert not [m for m in messages if m["type"] == "error"]
        await wire.close()

    run(body())
