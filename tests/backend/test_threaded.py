from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from realtime.backend.threaded import ThreadedStream
from realtime.engines.base import CancelFlag, GenerationError
from tests.conftest import run


class Steps:
    """A blocking engine stand-in: one slow step per item, cancel checked between steps."""

    def __init__(self, count: int, step_s: float = 0.0) -> None:
        self.count = count
        self.step_s = step_s
        self.produced = 0
        self.closed = threading.Event()
        self.threads: set[str] = set()

    def iterate(self, cancel: CancelFlag) -> Iterator[int]:
        try:
            for index in range(self.count):
                if cancel.is_set:
                    return
                self.threads.add(threading.current_thread().name)
                time.sleep(self.step_s)
                self.produced += 1
                yield index
        finally:
            self.closed.set()


def test_steps_run_off_the_event_loop_thread() -> None:
    steps = Steps(3)

    async def body() -> list[int]:
        with ThreadPoolExecutor(2, thread_name_prefix="engine") as pool:
            cancel = CancelFlag()
            return [item async for item in ThreadedStream(steps.iterate(cancel), pool, cancel)]

    assert run(body()) == [0, 1, 2]
    assert steps.threads and all(name.startswith("engine") for name in steps.threads)


def test_close_mid_step_stops_within_one_step_and_runs_the_engine_finally() -> None:
    steps = Steps(100, step_s=0.05)

    async def body() -> None:
        with ThreadPoolExecutor(1) as pool:
            cancel = CancelFlag()
            stream = ThreadedStream(steps.iterate(cancel), pool, cancel)
            await stream.__anext__()
            pending = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.01)  # the second step is running now
            pending.cancel()
            await stream.aclose()
            assert steps.closed.is_set()
            assert steps.produced <= 2

    run(body())


def test_queued_step_never_runs_after_close() -> None:
    steps = Steps(10)
    blocker = threading.Event()

    async def body() -> None:
        with ThreadPoolExecutor(1) as pool:
            pool.submit(blocker.wait)  # the only worker is busy
            cancel = CancelFlag()
            stream = ThreadedStream(steps.iterate(cancel), pool, cancel)
            pending = asyncio.ensure_future(stream.__anext__())
            await asyncio.sleep(0.01)
            pending.cancel()
            await stream.aclose()
            blocker.set()
        assert steps.produced == 0

    run(body())


def test_engine_exceptions_become_generation_errors() -> None:
    def broken(cancel: CancelFlag) -> Iterator[int]:
        yield 1
        raise ZeroDivisionError("boom")

    async def body() -> None:
        with ThreadPoolExecutor(1) as pool:
            cancel = CancelFlag()
            stream = ThreadedStream(broken(cancel), pool, cancel)
            assert await stream.__anext__() == 1
            with pytest.raises(GenerationError, match="ZeroDivisionError: boom"):
                await stream.__anext__()
            await stream.aclose()

    run(body())
