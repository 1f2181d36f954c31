"""What a session needs from its connection; the server adapts Starlette's WebSocket to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Frame:
    """One received WebSocket frame: bytes for binary, text for a text frame."""

    data: bytes | None = None
    text: str | None = None


class Disconnected(Exception):
    """The client closed the connection (or it broke)."""


class SendTimedOut(Exception):
    """The client read nothing for the send timeout while a frame waited for it."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"the client read nothing for {timeout_s:g} s while the server had data for it")
        self.timeout_s = timeout_s


class Transport(Protocol):
    async def receive(self) -> Frame:
        """The next frame; raises Disconnected when the client is gone."""

    async def send(self, data: bytes) -> None:
        """Send one binary frame; raises Disconnected when the client is gone, SendTimedOut when it reads nothing."""

    async def close(self, code: int, reason: str = "", last_frame: bytes | None = None) -> None:
        """Send `last_frame` (if any) and close with `code`; never raises, never waits on a client that reads nothing."""
