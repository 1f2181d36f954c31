"""Several contexts in one session, and several sessions on one server, over a real socket."""

from __future__ import annotations

import asyncio

from tests.conftest import run
from tests.support.stream_checks import audio_bytes, check_timeline, of_ctx, ping_fence, synthesize, types_of
from tests.wire import Wire, audio_of

LINE_A = "The north gate is closed tonight. Try the river path instead."
LINE_B = "I have not seen a traveller in days, stranger. What brings you here?"


def _done(messages: list[dict], ctx: str) -> dict:
    dones = [m for m in messages if m["type"] == "done" and m["ctx"] == ctx]
    assert len(dones) == 1, dones
    return dones[0]


def check_context(messages: list[dict], ctx: str, full_text: str, sample_rate: int = 24000) -> None:
    """One context's own stream: segments from 0 over its own text, its own timeline, one done."""
    own = of_ctx(messages, ctx)
    segments = [m for m in own if m["type"] == "segment"]
    assert [s["segment"] for s in segments] == list(range(len(segments)))
    for s in segments:
        assert full_text[s["char_start"] : s["char_end"]] == s["text"]
    chunks = audio_of(own, ctx)
    check_timeline(chunks, sample_rate)
    assert own[-1]["type"] == "done" and own[-1]["reason"] == "end"
    assert own[-1]["segments"] == len(segments)


def test_two_contexts_at_once_keep_separate_streams(server) -> None:
    a_parts = ["The north gate is closed tonight. ", "Try the river path instead."]
    b_parts = ["I have not seen a traveller in days, ", "stranger. What brings you here?"]

    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=21)
        for a, b in zip(a_parts, b_parts):
            await wire.send({"type": "text", "ctx": "a", "text": a})
            await wire.send({"type": "text", "ctx": "b", "text": b})
        await wire.send({"type": "end", "ctx": "b"})
        await wire.send({"type": "end", "ctx": "a"})
        messages = await wire.until(
            lambda m, seen=set(): m["type"] == "done" and (seen.add(m["ctx"]) or seen == {"a", "b"})
        )
        trailing = await ping_fence(wire)
        await wire.close()
        assert {m["ctx"] for m in messages if "ctx" in m} == {"a", "b"}
        check_context(messages, "a", "".join(a_parts))
        check_context(messages, "b", "".join(b_parts))
        assert types_of(of_ctx(trailing, "a")) == [] and of_ctx(trailing, "b") == []
        assert _done(messages, "a")["seed"] == 21 and _done(messages, "b")["seed"] == 21

    run(body())


def test_context_start_overrides_the_seed_for_that_context(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=5)
        await wire.send({"type": "context.start", "ctx": "other", "seed": 6})
        for ctx in ("main", "other"):
            await wire.send({"type": "text", "ctx": ctx, "text": LINE_A})
            await wire.send({"type": "end", "ctx": ctx})
        messages = await wire.until(
            lambda m, seen=set(): m["type"] == "done" and (seen.add(m["ctx"]) or seen == {"main", "other"})
        )
        await wire.close()
        assert _done(messages, "main")["seed"] == 5
        assert _done(messages, "other")["seed"] == 6
        check_context(messages, "main", LINE_A)
        check_context(messages, "other", LINE_A)
        assert audio_bytes(messages, "main") != audio_bytes(messages, "other")

        # The override is the same as a session started with that seed.
        _, alone = await synthesize(server.url, LINE_A, seed=6)
        assert audio_bytes(alone) == audio_bytes(messages, "other")

    run(body())


def test_context_start_for_an_open_context_is_refused_without_ending_the_session(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=1)
        await wire.send({"type": "context.start", "ctx": "npc"})
        await wire.send({"type": "context.start", "ctx": "npc", "seed": 9})
        error = await wire.recv()
        assert error["type"] == "error" and error["code"] == 4100 and error["fatal"] is False
        assert error.get("ctx") == "npc"
        # A context opened by text is open too.
        await wire.send({"type": "text", "ctx": "talk", "text": "Hello."})
        await wire.send({"type": "context.start", "ctx": "talk"})
        seen = await wire.until(lambda m: m["type"] == "error")
        assert seen[-1]["code"] == 4100 and seen[-1].get("ctx") == "talk"
        # The first context.start still stands: its seed (the session's) is used.
        await wire.send({"type": "text", "ctx": "npc", "text": "Still here."})
        await wire.send({"type": "end", "ctx": "npc"})
        messages = await wire.until_done("npc")
        assert _done(messages, "npc")["seed"] == 1
        check_timeline(audio_of(messages, "npc"), 24000)
        await wire.close()

    run(body())


def test_a_context_name_reused_after_done_starts_a_new_stream(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=8, format="wav")
        first_text, second_text = "First life of this name.", "Second life, a new stream."
        await wire.send({"type": "text", "ctx": "npc", "text": first_text})
        await wire.send({"type": "end", "ctx": "npc"})
        first = await wire.until_done("npc")
        await wire.send({"type": "text", "ctx": "npc", "text": second_text})
        await wire.send({"type": "end", "ctx": "npc"})
        second = await wire.until_done("npc")
        await wire.close()
        for messages, text in ((first, first_text), (second, second_text)):
            segments = [m for m in messages if m["type"] == "segment"]
            assert segments[0]["segment"] == 0 and segments[0]["char_start"] == 0
            assert " ".join(s["text"] for s in segments) == text
            chunks = audio_of(messages, "npc")
            check_timeline(chunks, 24000, format="wav")
            # each life is its own wav file, header included
            assert b"".join(c["data"] for c in chunks)[:4] == b"RIFF"
            assert _done(messages, "npc")["reason"] == "end"

    run(body())


def test_two_sessions_at_once_with_their_own_contexts(server) -> None:
    async def one_session(seed: int, contexts: dict[str, str]) -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=seed, sample_rate=16000)
        for ctx, text in contexts.items():
            await wire.send({"type": "text", "ctx": ctx, "text": text})
        for ctx in contexts:
            await wire.send({"type": "end", "ctx": ctx})
        names = set(contexts)
        messages = await wire.until(lambda m, seen=set(): m["type"] == "done" and (seen.add(m["ctx"]) or seen == names))
        await wire.close()
        assert {m["ctx"] for m in messages if "ctx" in m} == names
        for ctx, text in contexts.items():
            check_context(messages, ctx, text, 16000)
            assert _done(messages, ctx)["seed"] == seed
        assert types_of(messages).count("done") == len(contexts)

    async def body() -> None:
        await asyncio.gather(
            one_session(31, {"guard": LINE_A, "main": LINE_B}),
            one_session(32, {"merchant": LINE_B, "main": LINE_A}),
        )

    run(body())
