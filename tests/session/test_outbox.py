from __future__ import annotations

import asyncio

import pytest

from realtime.session.outbox import Outbox, OutboxClosed, Outgoing
from tests.conftest import run


def audio(ctx: str, n: int) -> Outgoing:
    async def render() -> dict[str, object]:
        return {"type": "audio", "ctx": ctx, "n": n}

    return Outgoing(ctx, render=render)


def test_messages_leave_in_the_order_they_were_queued() -> None:
    async def body() -> None:
        box = Outbox()
        await box.send({"type": "segment", "ctx": "a"})
        await box.put(audio("a", 1))
        await box.send({"type": "done", "ctx": "a"})
        kinds = [(await box.get()) for _ in range(3)]
        assert [k.message["type"] if k.message else (await k.render())["type"] for k in kinds] == [
            "segment",
            "audio",
            "done",
        ]

    run(body())


def test_a_context_waits_when_its_audio_queue_is_full() -> None:
    async def body() -> None:
        box = Outbox(max_audio_per_ctx=2)
        await box.put(audio("a", 1))
        await box.put(audio("a", 2))
        blocked = asyncio.ensure_future(box.put(audio("a", 3)))
        await box.put(audio("b", 1))  # another context is not held up
        await asyncio.sleep(0.01)
        assert not blocked.done()
        await box.get()
        await asyncio.wait_for(blocked, 1)
        assert len(box) == 3

    run(body())


def test_drop_audio_forgets_only_that_contexts_queued_audio() -> None:
    async def body() -> None:
        box = Outbox(max_audio_per_ctx=2)
        await box.put(audio("a", 1))
        await box.send({"type": "segment", "ctx": "a"})
        await box.put(audio("b", 1))
        await box.put(audio("a", 2))
        assert await box.drop_audio("a") == 2
        left = [await box.get() for _ in range(2)]
        assert left[0].message == {"type": "segment", "ctx": "a"} and left[1].ctx == "b"
        await box.put(audio("a", 3))  # room again

    run(body())


def test_close_lets_the_writer_drain_then_stop_and_refuses_more() -> None:
    async def body() -> None:
        box = Outbox()
        await box.send({"type": "pong"})
        await box.close()
        assert (await box.get()).message == {"type": "pong"}
        with pytest.raises(OutboxClosed):
            await box.get()
        with pytest.raises(OutboxClosed):
            await box.send({"type": "pong"})

    run(body())
