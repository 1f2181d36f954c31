"""A small asyncio client for the realtime protocol (used by `realtime-tts say`, the benchmark and tests).

    async with await RealtimeClient.connect("ws://127.0.0.1:8000/v1/realtime", format="wav") as client:
        result = await client.synthesize("Hello there. How are you?")
        open("out.wav", "wb").write(result.audio)

With `timestamps="word"`, `SpokenWords` (fed every message of a context, or built by
`SynthesisResult.spoken`) says which words play when, and `heard_text(played_ms)` what
the listener has heard whole: what a barge-in handler keeps as said.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import websockets
from websockets.typing import Subprotocol

from realtime.protocol import codec

SUBPROTOCOL = Subprotocol("tts.v1.msgpack")


class ServerError(Exception):
    """An `error` message from the server."""

    def __init__(self, message: dict[str, Any]) -> None:
        self.code: int = message.get("code", 0)
        self.name: str = message.get("name", "")
        self.fatal: bool = bool(message.get("fatal"))
        self.ctx: str | None = message.get("ctx")
        self.payload = message
        super().__init__(f"{self.code} {self.name}: {message.get('message', '')}")


@dataclass(frozen=True, slots=True)
class Word:
    """One spoken word; `char_start`/`char_end` are offsets into the context's whole text."""

    text: str
    start_ms: float
    end_ms: float
    char_start: int
    char_end: int
    segment: int


class SpokenWords:
    """One context's segments and words as they arrive; what was heard by a playback position."""

    def __init__(self, ctx: str = "main") -> None:
        self.ctx = ctx
        self.segments: dict[int, dict[str, Any]] = {}
        self.words: list[Word] = []
        self._timed: set[int] = set()

    def observe(self, message: dict[str, Any]) -> None:
        """Feed every message; those of other contexts and other types are ignored."""
        if message.get("ctx") != self.ctx:
            return
        kind = message.get("type")
        if kind == "segment":
            self.segments[message["segment"]] = message
        elif kind == "words" and message["segment"] in self.segments:
            offset = self.segments[message["segment"]]["char_start"]
            self._timed.add(message["segment"])
            self.words.extend(
                Word(w["text"], w["start_ms"], w["end_ms"], offset + w["char_start"], offset + w["char_end"], message["segment"])
                for w in message["words"]
            )

    def word_at(self, played_ms: float) -> Word | None:
        """The word playing at `played_ms` on the context's timeline (None in a pause)."""
        return next((w for w in self.words if w.start_ms <= played_ms < w.end_ms), None)

    def heard_text(self, played_ms: float) -> str:
        """The context's text fully spoken before `played_ms`: whole words only, in segment order.

        Segments are joined with one space where the context's text had a gap between them.
        It stops at the first segment whose words are unknown (not yet arrived, or dropped by a
        cancel), so it never claims more than was heard.
        """
        pieces: list[str] = []
        previous_end: int | None = None
        for index in sorted(self.segments):
            if index not in self._timed:
                break
            segment = self.segments[index]
            total = sum(1 for w in self.words if w.segment == index)
            if total == 0:
                continue  # nothing to say in it (punctuation only)
            heard = [w for w in self.words if w.segment == index and w.end_ms <= played_ms]
            if not heard:
                break
            if previous_end is not None and segment["char_start"] > previous_end:
                pieces.append(" ")
            cut = heard[-1].char_end - segment["char_start"]
            pieces.append(segment["text"][:cut])
            if len(heard) < total:
                break
            previous_end = segment["char_end"]
        return "".join(pieces)


@dataclass(slots=True)
class SynthesisResult:
    """Everything one context produced: its concatenated audio bytes and every message."""

    audio: bytes = b""
    messages: list[dict[str, Any]] = field(default_factory=list)
    done: dict[str, Any] | None = None

    @property
    def audio_messages(self) -> list[dict[str, Any]]:
        return [m for m in self.messages if m.get("type") == "audio"]

    def spoken(self, ctx: str = "main") -> SpokenWords:
        """The context's words (sent with `timestamps="word"`), offsets into its whole text."""
        spoken = SpokenWords(ctx)
        for message in self.messages:
            spoken.observe(message)
        return spoken

    def heard_text(self, played_ms: float, ctx: str = "main") -> str:
        return self.spoken(ctx).heard_text(played_ms)


class RealtimeClient:
    def __init__(self, connection: Any, ready: dict[str, Any]) -> None:
        self.connection = connection
        self.ready = ready

    @classmethod
    async def connect(
        cls, url: str, *, token: str | None = None, open_timeout: float = 30.0, **session_fields: Any
    ) -> RealtimeClient:
        """Open the socket, send `session.start` with `session_fields`, wait for `session.ready`."""
        headers = {"Authorization": f"Bearer {token}"} if token else None
        connection = await websockets.connect(
            url, subprotocols=[SUBPROTOCOL], additional_headers=headers, max_size=None, open_timeout=open_timeout
        )
        await connection.send(codec.pack({"type": "session.start", **session_fields}))
        reply = _decode(await connection.recv())
        if reply.get("type") == "error":
            await connection.close()
            raise ServerError(reply)
        return cls(connection, reply)

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(codec.pack(message))

    async def text(self, text: str, ctx: str | None = None) -> None:
        await self.send(_with_ctx({"type": "text", "text": text}, ctx))

    async def flush(self, ctx: str | None = None) -> None:
        await self.send(_with_ctx({"type": "flush"}, ctx))

    async def end(self, ctx: str | None = None) -> None:
        await self.send(_with_ctx({"type": "end"}, ctx))

    async def cancel(self, ctx: str | None = None) -> None:
        await self.send(_with_ctx({"type": "cancel"}, ctx))

    async def recv(self) -> dict[str, Any]:
        return _decode(await self.connection.recv())

    async def collect(self, ctx: str = "main") -> SynthesisResult:
        """Read until `done` for `ctx`; other contexts' messages are kept too. Raises on a fatal error."""
        result = SynthesisResult()
        while True:
            message = await self.recv()
            result.messages.append(message)
            kind = message.get("type")
            if kind == "error" and message.get("fatal"):
                raise ServerError(message)
            if message.get("ctx") != ctx:
                continue
            if kind == "audio":
                result.audio += message["data"]
            elif kind == "done":
                result.done = message
                return result

    async def synthesize(self, text: str, ctx: str = "main") -> SynthesisResult:
        """Speak `text` in one context and return its whole stream."""
        await self.text(text, ctx)
        await self.end(ctx)
        return await self.collect(ctx)

    async def close(self) -> None:
        await self.connection.close()

    async def __aenter__(self) -> RealtimeClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


def _with_ctx(message: dict[str, Any], ctx: str | None) -> dict[str, Any]:
    if ctx is not None:
        message["ctx"] = ctx
    return message


def _decode(frame: str | bytes) -> dict[str, Any]:
    if isinstance(frame, str):
        raise ServerError({"code": 1003, "name": "text_frame", "message": "the server sent a text frame"})
    message = codec.unpack(frame)
    if not isinstance(message, dict):
        raise ServerError({"code": 4000, "name": "bad_message", "message": "the server sent a non-map frame"})
    return message
