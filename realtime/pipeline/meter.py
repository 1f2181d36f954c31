"""The figures of one finished stream, measured the same way on both doors and reported once."""

from __future__ import annotations

import time
from dataclasses import dataclass

from realtime.metrics import Metrics


@dataclass(slots=True)
class StreamMeter:
    """Time to first audio (from the first text ready to speak), engine time and audio time of one stream."""

    ready_at: float | None = None
    first_audio_at: float | None = None
    engine_s: float = 0.0
    audio_s: float = 0.0
    _reported: bool = False

    def ready(self) -> None:
        """The stream has text to speak (the clock of time to first audio starts; later calls do nothing)."""
        if self.ready_at is None:
            self.ready_at = time.perf_counter()

    def first_audio(self) -> None:
        """Audio was handed to the client (only the first call counts)."""
        if self.first_audio_at is None:
            self.first_audio_at = time.perf_counter()

    def engine_step(self, seconds: float) -> None:
        self.engine_s += seconds

    @property
    def ttfa_s(self) -> float | None:
        if self.first_audio_at is None or self.ready_at is None:
            return None
        return self.first_audio_at - self.ready_at

    @property
    def rtf(self) -> float | None:
        """Engine compute time over audio time: under 1 is faster than real time."""
        return self.engine_s / self.audio_s if self.audio_s > 0 else None

    def report(self, metrics: Metrics | None, transport: str) -> None:
        """Count the stream in the server's metrics, once however often it is called."""
        if metrics is not None and not self._reported:
            self._reported = True
            metrics.stream_done(transport, self.ttfa_s, self.rtf, self.audio_s)
