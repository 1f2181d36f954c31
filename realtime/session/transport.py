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


class Transport(Protocol):
    async def receive(self) -> Frame:
        """The next frame; raises Disconnected when the client is gone."""

    async def send(self, data: bytes) -> None:
        """Send one binary frame; raises Disconnected when the client is gone."""

    async def close(self, code: int, reason: str = "") -> None:
        """Close with `code`; never raises."""
