"""The word-timestamp benchmark's reference: lone words trimmed to their voiced part, joined at known places."""

from __future__ import annotations

import numpy as np

from realtime.bench.words import FRAME, JOIN_SECONDS, RATE, boundary_errors_ms, reference_line, summary, voiced_span


def test_voiced_span_trims_silence_to_whole_frames() -> None:
    audio = np.zeros(RATE, dtype=np.float32)
    audio[4800:9600] = 0.5
    assert voiced_span(audio) == (4800, 9600)
    assert voiced_span(np.zeros(10, dtype=np.float32)) == (0, 10)


def test_reference_line_puts_each_word_where_it_says() -> None:
    def speak(text: str) -> np.ndarray:  # a "word" is a burst as long as its text, in silence
        burst = np.full(len(text) * FRAME, 0.3, dtype=np.float32)
        pad = np.zeros(5 * FRAME, dtype=np.float32)
        return np.concatenate([pad, burst, pad])

    audio, bounds = reference_line(speak, "Hi there, you.")
    gap = int(JOIN_SECONDS * RATE)
    assert bounds[0] == (gap, gap + 2 * FRAME)
    assert bounds[1][0] == bounds[0][1] + gap
    for start, end in bounds:
        assert np.all(audio[start:end] == np.float32(0.3))
    assert len(audio) == bounds[-1][1] + gap


def test_errors_and_summary() -> None:
    errors = boundary_errors_ms([(0, 2400)], [(240, 2400)])
    assert errors == [10.0, 0.0]
    assert summary([10.0, 0.0, 100.0])["within_50ms"] == round(2 / 3, 3)
