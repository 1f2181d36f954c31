"""Warm hibari instances shared by the engines of one test process.

Loading hibari (two onnxruntime sessions and its G2P lexicons per instance) was a quarter
of the CPU time of the socket tests: every server, backend and in-process session of the
suite loaded its own. Engines still load and shut down through their own code; here the
instances a `HibariEngine` holds are borrowed from a process-wide spare pool on `load` and
handed back on `shutdown`, and only the missing ones are built, by the engine's own load.
An instance is used by one engine thread at a time either way (the engine's pool hands it
out), and hibari keeps no state between runs (each voice brings its own random generator).
"""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from realtime.engines.hibari_engine import HibariEngine

_spares: queue.SimpleQueue[Any] = queue.SimpleQueue()
_own_load = HibariEngine.load
_own_shutdown = HibariEngine.shutdown


def _load(self: HibariEngine) -> None:
    if self._loaded:
        return
    borrowed: list[Any] = []
    while len(borrowed) < self._threads:
        try:
            borrowed.append(_spares.get_nowait())
        except queue.Empty:
            break
    threads = self._threads
    if len(borrowed) < threads:
        self._threads = threads - len(borrowed)  # the engine's own load builds (and warms) the rest
        try:
            _own_load(self)
        finally:
            self._threads = threads
    for tts in borrowed:
        self._pool.put(tts)
    self._loaded = True


def _shutdown(self: HibariEngine) -> None:
    # Only the idle instances: one still running a segment goes back to this engine's pool, and is dropped.
    idle = list(self._pool.queue)
    _own_shutdown(self)  # the engine's own shutdown still runs (and empties its pool)
    for tts in idle:
        _spares.put(tts)


@contextmanager
def shared_hibari_instances() -> Iterator[None]:
    """While open, every HibariEngine (subclasses too) borrows warm instances instead of loading its own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(HibariEngine, "load", _load)
        patch.setattr(HibariEngine, "shutdown", _shutdown)
        yield
