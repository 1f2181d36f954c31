"""`speed`: a streaming tempo change that keeps the pitch (FFmpeg's `atempo`, through PyAV).

atempo is a WSOLA time-stretch: it changes duration without resampling, so voices keep
their pitch. One instance takes 0.5..2.0 (wider ranges are chained), which covers
OpenAI's 0.25..4.0. It is fed chunk by chunk and returns what is ready, so the first
audio still leaves early; `finish()` flushes its tail.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
from av.filter import Graph

_EMPTY = np.zeros(0, dtype=np.float32)


def atempo_factors(speed: float) -> list[float]:
    """atempo takes 0.5..2.0 per instance: chain instances whose product is `speed`."""
    if speed <= 0:
        raise ValueError(f"speed must be positive, got {speed}")
    factors: list[float] = []
    while speed < 0.5:
        factors.append(0.5)
        speed /= 0.5
    while speed > 2.0:
        factors.append(2.0)
        speed /= 2.0
    factors.append(speed)
    return factors


class TempoChanger:
    """Float32 mono in, the same audio `speed` times faster out (duration / speed), same pitch."""

    def __init__(self, speed: float, sample_rate: int) -> None:
        self.speed = speed
        self.sample_rate = sample_rate
        self._time_base = Fraction(1, sample_rate)
        self._pts = 0
        self._graph = Graph()
        node = self._graph.add_abuffer(
            format="flt", sample_rate=sample_rate, layout="mono", time_base=self._time_base
        )
        for factor in atempo_factors(speed):
            stage = self._graph.add("atempo", f"{factor:.6f}")
            node.link_to(stage)
            node = stage
        sink = self._graph.add("abuffersink")
        node.link_to(sink)
        self._graph.configure()
        self._finished = False

    def process(self, samples: np.ndarray) -> np.ndarray:
        if self._finished:
            raise RuntimeError("the tempo changer is finished")
        if not len(samples):
            return _EMPTY
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32).reshape(1, -1), format="flt", layout="mono"
        )
        frame.sample_rate = self.sample_rate
        frame.time_base = self._time_base
        frame.pts = self._pts
        self._pts += len(samples)
        self._graph.push(frame)
        return self._drain()

    def finish(self) -> np.ndarray:
        """The audio still held in the filter; the changer is then spent."""
        if self._finished:
            return _EMPTY
        self._finished = True
        self._graph.push(None)
        return self._drain()

    def _drain(self) -> np.ndarray:
        pieces: list[np.ndarray] = []
        while True:
            try:
                frame = self._graph.pull()
            except (BlockingIOError, av.EOFError):
                break
            pieces.append(frame.to_ndarray().reshape(-1).astype(np.float32, copy=False))
        if not pieces:
            return _EMPTY
        return np.concatenate(pieces) if len(pieces) > 1 else pieces[0]
