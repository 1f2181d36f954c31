"""One context over a real server and socket: message order and fields, timeline, formats,
segmentation modes and backpressure against a slow reader."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from tests.conftest import run
from tests.support.counting_engine import CountingEngine, counting_backend, wait_until_steady
from tests.support.stream_checks import (
    check_timeline,
    check_wav_stream,
    of_ctx,
    pcm_samples,
    ping_fence,
    small_buffer_socket,
    synthesize,
    types_of,
)
from tests.wire import Wire, audio_of

SAMPLE_RATES = (8000, 16000, 22050, 24000, 44100, 48000)
TEXT = "Hello there, my friend. The weather is lovely today! Shall we take a walk along the river?"


def test_every_message_type_in_order_with_its_fields(server) -> None:
    before_flush = ["Hello there, my friend. ", "The weather is ", "lovely today!"]
    after_flush = [" Shall we walk", " along the river?"]
    full = "".join(before_flush + after_flush)
    flush_at = len("".join(before_flush))

    async def body() -> None:
        wire = await Wire.open(server.url)
        ready = await wire.start(seed=11)
        assert ready["seed"] == 11 and ready["protocol"] == 1
        for piece in before_flush:
            await wire.send({"type": "text", "text": piece})
        await wire.send({"type": "flush"})
        for piece in after_flush:
            await wire.send({"type": "text", "text": piece})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        trailing = await ping_fence(wire)
        await wire.close()

        assert types_of(of_ctx(trailing, "main")) == [], "nothing for the context after done"
        assert messages[-1]["type"] == "done"
        assert set(types_of(messages)) == {"segment", "audio", "flushed", "done"}

        segments = [m for m in messages if m["type"] == "segment"]
        assert [s["segment"] for s in segments] == list(range(len(segments)))
        for s in segments:
            assert s["ctx"] == "main"
            assert isinstance(s["text"], str) and s["text"]
            assert isinstance(s["char_start"], int) and isinstance(s["char_end"], int)
            assert full[s["char_start"] : s["char_end"]] == s["text"]
        assert [s["char_start"] for s in segments] == sorted(s["char_start"] for s in segments)
        for s, t in zip(segments, segments[1:]):
            assert s["char_end"] <= t["char_start"]

        # Each segment is announced before its first audio, and audio follows segment order.
        announced: set[int] = set()
        last_segment = -1
        for m in messages:
            if m["type"] == "segment":
                announced.add(m["segment"])
            elif m["type"] == "audio":
                assert m["segment"] in announced
                assert m["segment"] >= last_segment
                last_segment = m["segment"]

        chunks = audio_of(messages)
        for chunk in chunks:
            assert isinstance(chunk["data"], bytes)  # msgpack bin, never a list or str
            assert chunk["ctx"] == "main"
            assert isinstance(chunk["seq"], int) and isinstance(chunk["segment"], int)
            assert isinstance(chunk["timestamp_ms"], (int, float)) and isinstance(chunk["duration_ms"], (int, float))
            assert isinstance(chunk["segment_end"], bool) and isinstance(chunk["is_last"], bool)
        check_timeline(chunks, 24000)
        for s in segments:  # every segment's audio ends with its one segment_end
            own = [c for c in chunks if c["segment"] == s["segment"]]
            marked = [c["segment_end"] for c in own]
            assert marked.count(True) == 1
            # only the empty closing chunk (is_last, no samples) may follow the segment's end
            after_end = own[marked.index(True) + 1 :]
            assert all(c["is_last"] and c["duration_ms"] == 0 and not c["segment_end"] for c in after_end)
            assert len(after_end) <= 1

        # flushed: after the last audio of every segment cut before the flush, before any later one.
        flushed_at = types_of(messages).index("flushed")
        assert messages[flushed_at]["ctx"] == "main"
        before = {s["segment"] for s in segments if s["char_end"] <= flush_at}
        after = {s["segment"] for s in segments if s["char_start"] >= flush_at}
        assert before and after and len(before) + len(after) == len(segments)
        for index, m in enumerate(messages):
            if m["type"] in ("segment", "audio") and m["segment"] in before:
                assert index < flushed_at
            if m["type"] in ("segment", "audio") and m["segment"] in after:
                assert index > flushed_at
        assert [c for c in chunks if c["segment"] == max(before)][-1]["segment_end"]

        done = messages[-1]
        assert done["ctx"] == "main" and done["reason"] == "end"
        assert done["seed"] == 11
        assert done["segments"] == len(segments)
        assert abs(done["audio_ms"] - sum(c["duration_ms"] for c in chunks)) < 1e-6
        assert isinstance(done["ttfa_ms"], (int, float)) and done["ttfa_ms"] >= 0
        assert isinstance(done["rtf"], (int, float)) and done["rtf"] > 0

    run(body())


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
def test_timeline_tiles_at_every_sample_rate(server, sample_rate: int) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=3, sample_rate=sample_rate)
        await wire.send({"type": "text", "text": TEXT})
        await wire.send({"type": "end"})
        messages = await wire.until_done()
        trailing = await ping_fence(wire)
        await wire.close()
        chunks = audio_of(messages)
        check_timeline(chunks, sample_rate)
        assert len(chunks) > 5
        assert types_of(of_ctx(trailing, "main")) == []
        assert messages[-1]["audio_ms"] == pytest.approx(sum(c["duration_ms"] for c in chunks), abs=1e-6)
        # the timeline's length is the samples sent, at the session's rate
        total = sum(len(c["data"]) for c in chunks) // 2
        assert messages[-1]["audio_ms"] == pytest.approx(total * 1000.0 / sample_rate, abs=1e-6)

    run(body())


@pytest.mark.parametrize("sample_rate", [24000, 22050])
def test_wav_stream_is_one_file_with_the_same_samples_as_pcm(server, sample_rate: int) -> None:
    async def body() -> None:
        _, pcm = await synthesize(server.url, TEXT, seed=5, sample_rate=sample_rate, format="pcm")
        _, wav = await synthesize(server.url, TEXT, seed=5, sample_rate=sample_rate, format="wav")
        wav_chunks = audio_of(wav)
        check_timeline(wav_chunks, sample_rate, format="wav")
        samples = check_wav_stream(wav_chunks, sample_rate)
        expected = pcm_samples(b"".join(c["data"] for c in audio_of(pcm)))
        assert len(expected) > sample_rate  # over a second of speech
        assert np.array_equal(samples, expected)
        # Same timeline: the wav header takes no time.
        assert [c["duration_ms"] for c in wav_chunks] == [c["duration_ms"] for c in audio_of(pcm)]

    run(body())


# -- segmentation modes ------------------------------------------------------------------------


def test_auto_segmentation_cuts_sentences_with_a_short_first_segment(server) -> None:
    text = "Well, here we are at last. This second sentence is a fair bit longer than the first one. Done!"

    async def body() -> None:
        _, messages = await synthesize(server.url, text, seed=1, segmentation="auto")
        segments = [m["text"] for m in messages if m["type"] == "segment"]
        # "Well," is too short to stand alone as the first segment; sentence ends cut the rest.
        assert segments == [
            "Well, here we are at last.",
            "This second sentence is a fair bit longer than the first one.",
            "Done!",
        ]
        # The first segment is short: a clause break ends it early once it has a dozen characters.
        _, long_first = await synthesize(
            server.url, "In the morning, after breakfast, we walked to the old harbour and watched the boats.", seed=1
        )
        first = [m["text"] for m in long_first if m["type"] == "segment"]
        assert first[0] == "In the morning,"
        assert " ".join(first) == "In the morning, after breakfast, we walked to the old harbour and watched the boats."

    run(body())


def test_line_segmentation_makes_each_text_message_one_segment(server) -> None:
    lines = ["first line without a stop", "Second line. It has two sentences!", "third"]

    async def body() -> None:
        _, messages = await synthesize(server.url, lines, seed=1, segmentation="line")
        segments = [m for m in messages if m["type"] == "segment"]
        assert [s["text"] for s in segments] == lines
        full = "".join(lines)
        for s in segments:
            assert full[s["char_start"] : s["char_end"]] == s["text"]
        check_timeline(audio_of(messages), 24000)

    run(body())


def test_manual_segmentation_waits_for_flush(server) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=1, segmentation="manual")
        await wire.send({"type": "text", "text": "Nothing is said. Not yet! "})
        await wire.send({"type": "text", "text": "Still waiting."})
        with pytest.raises(TimeoutError):
            early = await wire.recv(timeout=0.5)
            raise AssertionError(f"manual mode sent {early['type']} before flush")
        await wire.send({"type": "flush"})
        messages = await wire.until(lambda m: m["type"] == "flushed")
        segments = [m for m in messages if m["type"] == "segment"]
        # flush cuts what was held (by the sentence rules); all of it is said now
        assert " ".join(s["text"] for s in segments) == "Nothing is said. Not yet! Still waiting."
        assert audio_of(messages) and audio_of(messages)[-1]["segment_end"]
        await wire.send({"type": "text", "text": "Then one more."})
        await wire.send({"type": "end"})
        rest = await wire.until_done()
        assert [m["text"] for m in rest if m["type"] == "segment"] == ["Then one more."]
        check_timeline(audio_of(messages + rest), 24000)
        await wire.close()

    run(body())


# -- backpressure ------------------------------------------------------------------------------


def test_slow_reader_holds_generation_back_and_loses_nothing(make_server) -> None:
    engine = CountingEngine(chunks_per_word=2, chunk_samples=4800)  # 200 ms per chunk
    running = make_server(backend=counting_backend(engine))
    # Small kernel buffers on both ends (accepted sockets inherit the listener's SO_SNDBUF),
    # so what waits in TCP is a few chunks and any server-side buffering would show.
    running._socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    text = " ".join(f"Sentence number {i} is here, and it carries ten words." for i in range(60))
    words = sum(len(segment.split()) for segment in text.split(". "))  # about 600

    async def body() -> None:
        wire = await Wire.open(running.url, max_queue=1, sock=small_buffer_socket(running.port))
        await wire.start(seed=2, model="counting")
        await wire.send({"type": "text", "text": text})
        await wire.send({"type": "end"})
        # Do not read: generation must come to a halt (a value steady for 0.3 s, i.e. 6 chunks' time)...
        held, _ = await wait_until_steady(lambda: engine.counters.produced, settle_s=0.3, timeout_s=30)
        messages = await wire.until_done(timeout=30)
        await wire.close()

        chunks = audio_of(messages)
        total = engine.counters.produced
        assert total >= 2 * words * 0.9
        assert held < total / 10, f"{held} of {total} chunks were made before the client read anything"
        assert len(chunks) == total  # every chunk arrived (24 kHz in and out: one message per chunk)
        check_timeline(chunks, 24000)
        assert sum(len(c["data"]) for c in chunks) == total * 4800 * 2
        assert messages[-1]["type"] == "done" and messages[-1]["reason"] == "end"

    run(body())


@pytest.mark.parametrize("format", ["pcm", "wav"])
def test_end_without_text_closes_an_empty_stream_that_belongs_to_no_segment(server, format: str) -> None:
    async def body() -> None:
        wire = await Wire.open(server.url)
        await wire.start(seed=2, format=format)
        await wire.send({"type": "end", "ctx": "quiet"})
        messages = await wire.until_done("quiet")
        assert types_of(messages) == ["audio", "done"]
        [closing] = audio_of(messages, "quiet")
        assert closing["is_last"] and not closing["segment_end"]
        assert closing["segment"] == -1 and closing["seq"] == 0 and closing["duration_ms"] == 0
        assert messages[-1]["segments"] == 0 and messages[-1]["ttfa_ms"] is None
        if format == "wav":
            assert closing["data"][:4] == b"RIFF" and len(closing["data"]) == 44  # a valid, empty WAV stream
        else:
            assert closing["data"] == b""
        await wire.close()

    run(body())
