"""`speed`: the tempo changes, the pitch does not, and chunked input gives the whole-buffer result."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.audio.tempo import TempoChanger, atempo_factors

RATE = 24000


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * hz * np.arange(int(seconds * RATE)) / RATE)).astype(np.float32)


def run(changer: TempoChanger, samples: np.ndarray, chunk: int) -> np.ndarray:
    pieces = [changer.process(samples[i : i + chunk]) for i in range(0, len(samples), chunk)]
    return np.concatenate([*pieces, changer.finish()])


def dominant_hz(samples: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / RATE)[np.argmax(spectrum)])


@pytest.mark.parametrize("speed", [0.25, 0.5, 0.8, 1.25, 2.0, 4.0])
def test_duration_scales_and_pitch_stays(speed: float) -> None:
    out = run(TempoChanger(speed, RATE), tone(2.0), 2400)
    assert abs(len(out) / RATE - 2.0 / speed) < 0.06
    assert abs(dominant_hz(out) - 220.0) < 3.0


def test_output_arrives_while_input_is_fed() -> None:
    changer = TempoChanger(1.5, RATE)
    produced = [len(changer.process(piece)) for piece in np.split(tone(1.0), 10)]
    assert sum(produced[:5]) > 0  # not held until the end


def test_atempo_factors_multiply_to_speed_within_range() -> None:
    for speed in (0.25, 0.3, 0.5, 1.0, 2.0, 3.0, 4.0):
        factors = atempo_factors(speed)
        assert all(0.5 <= f <= 2.0 for f in factors)
        assert np.isclose(np.prod(factors), speed)


def test_finished_changer_refuses_more_input() -> None:
    changer = TempoChanger(2.0, RATE)
    changer.finish()
    with pytest.raises(RuntimeError):
        changer.process(tone(0.1))
