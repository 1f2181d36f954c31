"""Section 6's arithmetic: first byte, first audible sample and when a listener hears it."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.bench.audible import AudibleTiming, AudibleTracker, engine_leading_silence_ms

RATE = 24000


def pcm(samples: list[int]) -> bytes:
    return np.asarray(samples, dtype="<i2").tobytes()


def test_heard_is_the_later_of_arrival_and_playback_from_the_first_byte() -> None:
    early = AudibleTiming(first_byte_ms=20.0, audible_arrival_ms=20.0, audible_at_ms=180.0)
    assert early.heard_ms == 200.0 and early.heard_after_first_byte_ms == 180.0
    late = AudibleTiming(first_byte_ms=20.0, audible_arrival_ms=90.0, audible_at_ms=5.0)
    assert late.heard_ms == 90.0 and late.heard_after_first_byte_ms == 70.0


@pytest.mark.parametrize("cut", [1, 3, 480, 481, 961])
def test_the_tracker_finds_the_first_audible_sample_however_the_bytes_are_split(cut: int) -> None:
    samples = [0] * 480 + [50] + [0] * 239 + [-200] + [0] * 100  # 50 is under -50 dBFS (103.6), -200 over it
    data = pcm(samples)
    tracker = AudibleTracker(RATE)
    tracker.feed(data[:cut], 10.0)
    tracker.feed(b"", 15.0)
    tracker.feed(data[cut:], 30.0)
    timing = tracker.timing()
    assert timing is not None
    assert timing.first_byte_ms == 10.0
    assert timing.audible_at_ms == 720 * 1000.0 / RATE
    assert timing.audible_arrival_ms == (10.0 if cut > 2 * 720 else 30.0)


def test_no_audible_sample_gives_no_timing() -> None:
    tracker = AudibleTracker(RATE)
    tracker.feed(pcm([0, 3, -3] * 100), 1.0)
    assert tracker.timing() is None


def test_engine_leading_silence() -> None:
    audio = np.zeros(4800, dtype=np.float32)
    audio[2400] = 0.5
    assert engine_leading_silence_ms(audio, RATE) == 100.0
    assert engine_leading_silence_ms(np.zeros(10, dtype=np.float32), RATE) is None
