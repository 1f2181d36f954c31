"""A session's connection in memory: session behaviour tested in-process, no server and no socket."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from realtime.protocol import codec
from realtime.session.transport import Disconnected, Frame

Message = dict[str, Any]


class FakeTransport:
    """The test pushes client messages and waits on what the session sent (condition waits, never fixed sleeps)."""

    def __init__(self) -> None:
        self._incoming: asyncio.Queue[Frame | None] = asyncio.Queue()
        self.sent: list[Message] = []
        self.closed_with: int | None = None
        self.receiving = asyncio.Event()  # the session is waiting for a client message
        self._changed = asyncio.Condition()

    # -- the client's side ---------------------------------------------------------------------
    def push(self, message: Message) -> None:
        self._incoming.put_nowait(Frame(data=codec.pack(message)))

    def push_raw(self, data: bytes) -> None:
        self._incoming.put_nowait(Frame(data=data))

    def leave(self) -> None:
        """The client goes away: the session's next receive raises Disconnected."""
        self._incoming.put_nowait(None)

    async def wait_for(self, predicate: Callable[[Message], bool], timeout_s: float = 30.0) -> Message:
        """The first message sent that matches `predicate`, once it was sent."""

        def found() -> Message | None:
            return next((m for m in self.sent if predicate(m)), None)

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: found() is not None), timeout_s)
        message = found()
        assert message is not None
        return message

    async def wait_closed(self, timeout_s: float = 30.0) -> int:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: self.closed_with is not None), timeout_s)
        assert self.closed_with is not None
        return self.closed_with

    # -- the session's side (realtime.session.transport.Transport) ------------------------------
    async def receive(self) -> Frame:
        self.receiving.set()
        frame = await self._incoming.get()
        if frame is None:
            raise Disconnected
        return frame

    async def send(self, data: bytes) -> None:
        async with self._changed:
            self.sent.append(codec.unpack(data))
            self._changed.notify_all()

    async def close(self, code: int, reason: str = "", last_frame: bytes | None = None) -> None:
        async with self._changed:
            if self.closed_with is not None:
                return  # as a WebSocket: only the first close counts
            if last_frame is not None:
                self.sent.append(codec.unpack(last_frame))
            self.closed_with = code
            self._changed.notify_all()
