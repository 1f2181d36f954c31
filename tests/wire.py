"""A raw protocol client for tests: sends any frame, reads messages and close codes."""

from __future__ import annotations

import asyncio
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

from realtime.protocol import codec

SUBPROTOCOL = "tts.v1.msgpack"


class Wire:
    """Thin wrapper over a websockets connection that speaks msgpack frames."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    @classmethod
    async def open(cls, url: str, **kwargs: Any) -> Wire:
        kwargs.setdefault("subprotocols", [SUBPROTOCOL])
        kwargs.setdefault("max_size", None)
        return cls(await websockets.connect(url, **kwargs))

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(codec.pack(message))

    async def send_raw(self, data: bytes | str) -> None:
        await self.connection.send(data)

    async def recv(self, timeout: float = 20.0) -> dict[str, Any]:
        return codec.unpack(await asyncio.wait_for(self.connection.recv(), timeout))

    async def start(self, **fields: Any) -> dict[str, Any]:
        """Send session.start and return session.ready (fails the test on anything else)."""
        await self.send({"type": "session.start", **fields})
        reply = await self.recv()
        assert reply["type"] == "session.ready", reply
        return reply

    async def until(self, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Messages up to and including the first that satisfies `predicate`."""
        seen: list[dict[str, Any]] = []
        while True:
            message = await self.recv(timeout)
            seen.append(message)
            if predicate(message):
                return seen

    async def until_done(self, ctx: str = "main", timeout: float = 30.0) -> list[dict[str, Any]]:
        return await self.until(lambda m: m.get("type") == "done" and m.get("ctx") == ctx, timeout)

    async def closed_with(self, timeout: float = 20.0) -> tuple[list[dict[str, Any]], int | None]:
        """Read until the server closes; the messages before it and the close code."""
        messages: list[dict[str, Any]] = []
        try:
            while True:
                messages.append(codec.unpack(await asyncio.wait_for(self.connection.recv(), timeout)))
        except ConnectionClosed as closed:
            return messages, closed.rcvd.code if closed.rcvd else None

    async def close(self) -> None:
        await self.connection.close()

    def abort(self) -> None:
        """Drop the TCP connection at once, with no closing handshake.

        For a client that stopped reading: it cannot read the server's close frame, so a
        polite close() would only sit out the library's close timeout (10 s).
        """
        self.connection.transport.abort()


def audio_of(messages: list[dict[str, Any]], ctx: str = "main") -> list[dict[str, Any]]:
    return [m for m in messages if m.get("type") == "audio" and m.get("ctx") == ctx]


def joined_audio(messages: list[dict[str, Any]], ctx: str = "main") -> bytes:
    return b"".join(m["data"] for m in audio_of(messages, ctx))
