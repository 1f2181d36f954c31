"""Bridge from a blocking engine iterator to async code, one engine step per worker job.

Each `next()` runs in the engine's thread pool, so the event loop never blocks and a
slow consumer simply stops asking for steps (backpressure for free). Closing sets the
cancel flag and closes the iterator once its current step is over: the engine stops
within one step and its `finally` blocks release what it holds.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from contextlib import suppress
from typing import Generic, TypeVar

from realtime.engines.base import CancelFlag, GenerationError

T = TypeVar("T")
_EXHAUSTED = object()


class ThreadedStream(Generic[T]):
    """Async iteration over a blocking iterator whose steps run in `executor`."""

    def __init__(self, iterator: Iterator[T], executor: Executor, cancel: CancelFlag) -> None:
        self._iterator = iterator
        self._executor = executor
        self.cancel = cancel
        self._lock = threading.Lock()  # a step and the close never overlap
        self._closed = False
        self._inflight: Future[object] | None = None

    def _step(self) -> object:
        with self._lock:
            if self._closed or self.cancel.is_set:
                return _EXHAUSTED
            try:
                return next(self._iterator, _EXHAUSTED)
            except GenerationError:
                raise
            except Exception as exc:  # an engine bug on odd input fails the segment, not the server
                raise GenerationError(f"{type(exc).__name__}: {exc}") from exc

    def _close_locked(self) -> None:
        if not self._closed:
            self._closed = True
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()

    def _close(self) -> None:
        with self._lock:
            self._close_locked()

    def __aiter__(self) -> ThreadedStream[T]:
        return self

    async def __anext__(self) -> T:
        self._inflight = self._executor.submit(self._step)
        item = await asyncio.wrap_future(self._inflight)
        if item is _EXHAUSTED:
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    async def aclose(self) -> None:
        """Stop the engine within its current step and release it; safe to call twice."""
        self.cancel.set()
        inflight = self._inflight
        if inflight is not None and not inflight.cancel() and not inflight.done():
            # A step is running: it ends at its next cancel check; wait for it, then close.
            with suppress(Exception):
                await asyncio.shield(asyncio.wrap_future(inflight))
        if self._closed:
            return
        if self._lock.acquire(blocking=False):
            try:
                self._close_locked()
            finally:
                self._lock.release()
        else:  # pragma: no cover - only if a step outlived its future's wait
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close)
