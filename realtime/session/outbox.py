"""One session's outgoing messages, in order, with bounded buffering.

Audio waits here unencoded: it is numbered, timestamped and encoded only when the
writer takes it, so a cancel can drop what is still queued and the context's stream
stays one valid stream with a gapless timeline. A context may have only a few audio
items queued; when the client reads slowly its generation waits instead of the
server buffering without bound.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Outgoing:
    """A message waiting to be sent: ready (`message`) or rendered when sent (`render`, awaited).

    `ctx` is what the item's audio is counted and dropped by: a context's own stream key
    for audio (a name may be reused while its earlier stream still has audio queued).
    """

    ctx: Hashable | None
    message: dict[str, Any] | None = None
    render: Callable[[], Awaitable[dict[str, Any] | None]] | None = None
    # A control message rendered when sent (`done`, whose totals must count every chunk sent
    # before it, including one the writer is still encoding): never counted or dropped as audio.
    deferred: bool = False

    @property
    def is_audio(self) -> bool:
        return self.render is not None and not self.deferred


class OutboxClosed(Exception):
    """The session is over; nothing more will be sent."""


class Outbox:
    def __init__(self, max_audio_per_ctx: int = 4, max_items: int = 256) -> None:
        self._items: deque[Outgoing] = deque()
        self._audio_counts: dict[Hashable | None, int] = {}
        self._max_audio_per_ctx = max_audio_per_ctx
        self._max_items = max_items
        self._changed = asyncio.Condition()
        self._closed = False

    def _has_room(self, item: Outgoing) -> bool:
        if item.is_audio:
            return self._audio_counts.get(item.ctx, 0) < self._max_audio_per_ctx
        return len(self._items) < self._max_items

    async def put(self, item: Outgoing) -> None:
        """Queue `item`, waiting while its context (or the whole session) has no room."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._closed or self._has_room(item))
            if self._closed:
                raise OutboxClosed
            self._items.append(item)
            if item.is_audio:
                self._audio_counts[item.ctx] = self._audio_counts.get(item.ctx, 0) + 1
            self._changed.notify_all()

    async def send(self, message: dict[str, Any]) -> None:
        await self.put(Outgoing(ctx=message.get("ctx"), message=message))

    async def get(self) -> Outgoing:
        async with self._changed:
            await self._changed.wait_for(lambda: self._closed or bool(self._items))
            if not self._items:
                raise OutboxClosed
            item = self._items.popleft()
            if item.is_audio:
                left = self._audio_counts[item.ctx] - 1
                if left:
                    self._audio_counts[item.ctx] = left
                else:
                    del self._audio_counts[item.ctx]
            self._changed.notify_all()
            return item

    async def drop_audio(self, ctx: Hashable) -> int:
        """Forget the audio of `ctx` not yet taken by the writer (barge-in); returns how many."""
        async with self._changed:
            kept = deque(item for item in self._items if not (item.is_audio and item.ctx == ctx))
            dropped = len(self._items) - len(kept)
            self._items = kept
            self._audio_counts.pop(ctx, None)
            self._changed.notify_all()
            return dropped

    async def close(self) -> None:
        async with self._changed:
            self._closed = True
            self._changed.notify_all()

    def __len__(self) -> int:
        return len(self._items)
