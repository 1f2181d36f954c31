"""AudioOutput.deliver: codecs encode off the event loop, pcm and wav inline, chunks numbered in order."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from realtime.audio.encoder_base import StreamEncoder
from realtime.pipeline.output import AudioOutput, PendingAudio
from tests.conftest import run
from tests.support.codecs import decode


def _record_threads(stream: AudioOutput) -> list[int]:
    """Wrap the stream's encoder so each feed/close notes the thread it ran on."""
    encoder: StreamEncoder = stream.encoder
    seen: list[int] = []
    feed, close = encoder.feed, encoder.close

    def recording_feed(samples: np.ndarray) -> bytes:
        seen.append(threading.get_ident())
        return feed(samples)

    def recording_close() -> bytes:
        seen.append(threading.get_ident())
        return close()

    encoder.feed = recording_feed  # type: ignore[method-assign]
    encoder.close = recording_close  # type: ignore[method-assign]
    return seen


@pytest.mark.parametrize(("fmt", "off_loop"), [("mp3", True), ("flac", True), ("ogg", True), ("pcm", False), ("wav", False)])
def test_codecs_encode_in_a_worker_thread_and_framing_stays_inline(fmt: str, off_loop: bool) -> None:
    async def body() -> None:
        stream = AudioOutput(fmt, 24000, 24000)
        threads = _record_threads(stream)
        chunk = (0.1 * np.sin(np.arange(2400) / 7)).astype(np.float32)
        await stream.deliver(PendingAudio(0, chunk, segment_end=False, is_last=False))
        await stream.deliver(PendingAudio(0, chunk, segment_end=True, is_last=True))
        loop_thread = threading.get_ident()
        assert threads and all((ident != loop_thread) == off_loop for ident in threads)

    run(body())


def test_the_loop_keeps_running_while_a_codec_encodes() -> None:
    """Other coroutines make progress during a long encode (a second of 48 kHz audio to mp3)."""

    async def body() -> None:
        stream = AudioOutput("mp3", 24000, 48000)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        big = (0.1 * np.sin(np.arange(48000 * 3) / 7)).astype(np.float32)
        await stream.deliver(PendingAudio(0, big, segment_end=True, is_last=True))
        task.cancel()
        assert ticks > 10

    run(body())


def test_delivered_chunks_keep_order_seq_and_timeline_and_decode_to_the_input() -> None:
    async def body() -> None:
        stream = AudioOutput("flac", 24000, 24000)
        x = (0.3 * np.sin(np.arange(24000) / 9)).astype(np.float32)
        parts = np.split(x, [2400, 7200, 7201, 12000])
        chunks = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            chunk = await stream.deliver(PendingAudio(0, part, segment_end=last, is_last=last))
            assert chunk is not None
            chunks.append(chunk)
        assert await stream.deliver(PendingAudio(0, x[:10], segment_end=False, is_last=False)) is None  # closed
        assert [c.seq for c in chunks] == list(range(len(parts)))
        assert [c.timestamp_ms for c in chunks] == [0.0, 100.0, 300.0, 300.0 + 1000 / 24000, 500.0]
        assert [c.samples for c in chunks] == [len(part) for part in parts]
        assert [c.is_last for c in chunks] == [False] * (len(parts) - 1) + [True]
        decoded, _ = decode(b"".join(c.data for c in chunks), "flac")
        np.testing.assert_array_equal(np.rint(decoded * 32768), np.rint(x * 32767))

    run(body())
