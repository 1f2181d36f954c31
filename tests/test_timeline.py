from __future__ import annotations

import random

import pytest

from realtime.timeline import Timeline


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 24000, 44100, 48000])
def test_spans_tile_the_timeline_without_drift(rate: int) -> None:
    timeline = Timeline(rate)
    sizes = [random.Random(rate).randint(0, 5000) for _ in range(2000)]
    spans = [timeline.advance(n) for n in sizes]
    for before, after in zip(spans, spans[1:]):
        assert after.start_ms == pytest.approx(before.start_ms + before.duration_ms, abs=1e-9)
        assert after.start_sample == before.start_sample + before.samples
    assert spans[-1].start_ms + spans[-1].duration_ms == pytest.approx(sum(sizes) * 1000 / rate, abs=1e-9)
    assert timeline.elapsed_ms == sum(sizes) * 1000 / rate


def test_first_span_starts_at_zero_and_empty_spans_have_no_duration() -> None:
    timeline = Timeline(24000)
    assert timeline.advance(0).start_ms == 0.0
    span = timeline.advance(2400)
    assert (span.start_ms, span.duration_ms) == (0.0, 100.0)
    assert timeline.advance(0).duration_ms == 0.0


def test_negative_lengths_and_rates_are_refused() -> None:
    with pytest.raises(ValueError):
        Timeline(0)
    with pytest.raises(ValueError):
        Timeline(24000).advance(-1)
