"""The two body shapes of a speech response: the raw bytes of one file, or OpenAI's SSE events.

Both turn a generation failure before the first piece into an ApiError (answered as
an ordinary HTTP error, since no status line went out yet). After it, a raw body is
cut (StreamFailed) and an SSE body ends with an `error` event.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from realtime.engines.base import GenerationError, VoiceRequest
from realtime.http.errors import ApiError
from realtime.http.protocol import SpeechRequest
from realtime.http.streaming import StreamFailed
from realtime.pipeline.meter import StreamMeter
from realtime.pipeline.words import SegmentWordsEvent

MEDIA_TYPES = {
    "pcm": "audio/pcm",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg; codecs=opus",
    "ogg": "audio/ogg; codecs=vorbis",
    "aac": "audio/aac",
    "flac": "audio/flac",
}
SSE_MEDIA_TYPE = "text/event-stream"


def _sse(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def _generation_failed(exc: GenerationError) -> ApiError:
    return ApiError(500, f"generation failed: {exc}", "generation_failed")


def _words_event(event: SegmentWordsEvent) -> dict[str, Any]:
    """Our extension: one segment's words, as the socket's `words` message says them."""
    message: dict[str, Any] = {
        "type": "speech.audio.words",
        "segment": event.segment,
        "text": event.text,
        "char_start": event.char_start,
        "char_end": event.char_end,
        "words": event.timed.wire_words(),
        "source": event.timed.source,
    }
    if event.timed.notice:
        message["notice"] = event.timed.notice
    return message


async def sse_events(
    pieces: AsyncGenerator[bytes | SegmentWordsEvent, None], speech: SpeechRequest, voice_request: VoiceRequest, meter: StreamMeter
) -> AsyncGenerator[bytes, None]:
    """OpenAI's speech events: `speech.audio.delta` (base64 audio) per piece, then `speech.audio.done`.

    With `timestamps: "word"`, a `speech.audio.words` event follows each segment's last audio.
    """
    started = False
    try:
        async with aclosing(pieces):  # closing the body closes the pipeline at once: the engine stops
            async for piece in pieces:
                if isinstance(piece, SegmentWordsEvent):
                    yield _sse(_words_event(piece))
                    continue
                started = True
                yield _sse({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()})
    except GenerationError as exc:
        if not started:
            raise _generation_failed(exc) from exc
        yield _sse({"type": "error", **_generation_failed(exc).body()})
        return
    yield _sse(
        {
            "type": "speech.audio.done",
            # No tokens here: input counts characters, output is left at 0 (see README).
            "usage": {"input_tokens": len(speech.input), "output_tokens": 0, "total_tokens": len(speech.input)},
            "audio_ms": meter.audio_s * 1000.0,
            "seed": voice_request.seed,
            "model": voice_request.model,
            "format": speech.response_format,
            "sample_rate": speech.sample_rate,
        }
    )


async def raw_body(pieces: AsyncGenerator[bytes | SegmentWordsEvent, None]) -> AsyncGenerator[bytes, None]:
    started = False
    try:
        async with aclosing(pieces):  # closing the body closes the pipeline at once: the engine stops
            async for piece in pieces:
                if not isinstance(piece, bytes):
                    continue  # word timestamps travel only as SSE events
                started = True
                yield piece
    except GenerationError as exc:
        if not started:
            raise _generation_failed(exc) from exc
        raise StreamFailed(str(exc)) from exc
