"""The worker threads that encode audio, so codec work never runs on the event loop.

One bounded pool for the whole server (the socket's streams and the HTTP API's alike),
made on first use: a server that only ever streams pcm or wav never starts it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None


def _encode_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1), thread_name_prefix="audio-encode")
    return _pool


async def off_loop(work: Callable[..., T], *args: object) -> T:
    """Run blocking audio work (encoding, tempo change) in the encode pool and await its result."""
    return await asyncio.get_running_loop().run_in_executor(_encode_pool(), work, *args)
