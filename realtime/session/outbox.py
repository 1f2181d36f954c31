"""One session's outgoing messages, in order, bounded in items and in bytes.

Audio waits here unencoded: it is numbered, timestamped and encoded only when the
writer takes it, so a cancel can drop what is still queued and the context's stream
stays one valid stream with a gapless timeline. A context may have only a few audio
items queued, and the whole session only `max_bytes` of messages; when the client
reads slowly its generation (and its reader: a ping waits for room for its pong)
waits instead of the server buffering without bound. Closing the outbox drops
everything still queued, so no buffer outlives its session.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from realtime.protocol import codec

DEFAULT_MAX_BYTES = 4 * 1024 * 1024


@dataclass(slots=True)
class Outgoing:
    """A message waiting to be sent: ready (`message`) or rendered when sent (`render`, awaited).

    `ctx` is what the item's audio is counted and dropped by: a context's own stream key
    for audio (a name may be reused while its earlier stream still has audio queued).
    `size` is what the item holds in memory while it waits (audio: its samples' bytes);
    a ready message is measured by the outbox.
    """

    ctx: Hashable | None
    message: dict[str, Any] | None = None
    render: Callable[[], Awaitable[dict[str, Any] | None]] | None = None
    # A control message rendered when sent (`done`, whose totals must count every chunk sent
    # before it, including one the writer is still encoding): never counted or dropped as audio.
    deferred: bool = False
    size: int = 0

    @property
    def is_audio(self) -> bool:
        return self.render is not None and not self.deferred


class OutboxClosed(Exception):
    """The session is over; nothing more will be sent."""


class Outbox:
    def __init__(
        self,
        max_audio_per_ctx: int = 4,
        max_items: int = 256,
        max_bytes: int = DEFAULT_MAX_BYTES,
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self._items: deque[Outgoing] = deque()
        self._audio_counts: dict[Hashable | None, int] = {}
        self._max_audio_per_ctx = max_audio_per_ctx
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._on_bytes = on_bytes  # told every change of the queued bytes (a metrics gauge)
        self.queued_bytes = 0
        self._changed = asyncio.Condition()
        self._closed = False

    def _has_room(self, item: Outgoing) -> bool:
        # An item bigger than the whole bound still goes, alone: refusing it would stall the session.
        if self._items and self.queued_bytes + item.size > self._max_bytes:
            return False
        if item.is_audio:
            return self._audio_counts.get(item.ctx, 0) < self._max_audio_per_ctx
        return len(self._items) < self._max_items

    def _count_bytes(self, delta: int) -> None:
        if delta:
            self.queued_bytes += delta
            if self._on_bytes is not None:
                self._on_bytes(delta)

    async def put(self, item: Outgoing) -> None:
        """Queue `item`, waiting while its context (or the whole session) has no room."""
        if item.message is not None and not item.size:
            item.size = len(codec.pack(item.message))
        async with self._changed:
            await self._changed.wait_for(lambda: self._closed or self._has_room(item))
            if self._closed:
                raise OutboxClosed
            self._items.append(item)
            self._count_bytes(item.size)
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
            self._count_bytes(-item.size)
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
            self._count_bytes(sum(item.size for item in kept) - self.queued_bytes)
            self._items = kept
            self._audio_counts.pop(ctx, None)
            self._changed.notify_all()
            return dropped

    async def close(self, drop: bool = False) -> None:
        """No more puts; the writer drains what is queued, or with `drop` everything queued is forgotten now."""
        async with self._changed:
            self._closed = True
            if drop:
                self._forget_all()
            self._changed.notify_all()

    def _forget_all(self) -> None:
        self._items.clear()
        self._audio_counts.clear()
        self._count_bytes(-self.queued_bytes)

    def __len__(self) -> int:
        return len(self._items)
