"""Timeline arithmetic for one context's continuous audio stream. Pure.

Positions are counted in samples and converted to milliseconds from the running
total, never by adding rounded durations, so chunks tile the timeline exactly and
no drift builds up however many chunks a context sends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """Where one chunk sits: its first sample and length, and the same in milliseconds."""

    start_sample: int
    samples: int
    start_ms: float
    duration_ms: float


class Timeline:
    """Samples sent so far on one stream, at one sample rate."""

    __slots__ = ("sample_rate", "_samples")

    def __init__(self, sample_rate: int) -> None:
        if sample_rate <= 0:
            raise ValueError("sample_rate must be positive")
        self.sample_rate = sample_rate
        self._samples = 0

    def position_ms(self, samples: int) -> float:
        return samples * 1000.0 / self.sample_rate

    def advance(self, samples: int) -> Span:
        """The span of the next `samples` samples; the timeline moves past them."""
        if samples < 0:
            raise ValueError("samples must not be negative")
        start = self._samples
        self._samples += samples
        start_ms = self.position_ms(start)
        return Span(start, samples, start_ms, self.position_ms(self._samples) - start_ms)

    @property
    def samples(self) -> int:
        return self._samples

    @property
    def elapsed_ms(self) -> float:
        return self.position_ms(self._samples)
