"""Streaming resampling must not depend on how the stream is chunked."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.audio.resample import OUTPUT_SAMPLE_RATES, StreamResampler

IN_RATE = 24000


def _signal(n: int = 24_000) -> np.ndarray:
    rng = np.random.default_rng(7)
    t = np.arange(n) / IN_RATE
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(n)).astype(np.float32)


def _run(r: StreamResampler, chunks: list[np.ndarray]) -> np.ndarray:
    out = [r.process(c) for c in chunks]
    out.append(r.finish())
    assert all(o.dtype == np.float32 and o.ndim == 1 for o in out)
    return np.concatenate(out)


def _arbitrary_chunks(x: np.ndarray, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, x.size, size=60))
    return [x[:0], x[:1], *np.split(x[1:], cuts), x[:0]]


def test_output_rates() -> None:
    assert OUTPUT_SAMPLE_RATES == (8000, 16000, 22050, 24000, 44100, 48000)


@pytest.mark.parametrize("out_rate", [r for r in OUTPUT_SAMPLE_RATES if r != IN_RATE])
def test_chunking_does_not_change_output(out_rate: int) -> None:
    x = _signal()
    one_shot = _run(StreamResampler(IN_RATE, out_rate), [x])
    for seed in range(3):
        chunked = _run(StreamResampler(IN_RATE, out_rate), _arbitrary_chunks(x, seed))
        assert chunked.size == one_shot.size
        np.testing.assert_allclose(chunked, one_shot, atol=1e-6, rtol=0)
    assert abs(one_shot.size - x.size * out_rate / IN_RATE) <= 2


@pytest.mark.parametrize("n", [1, 7, 1000, 12_345])
def test_length_matches_ratio(n: int) -> None:
    x = _signal(n)
    for out_rate in (8000, 22050, 44100, 48000):
        out = _run(StreamResampler(IN_RATE, out_rate), _arbitrary_chunks(x, n))
        assert abs(out.size - n * out_rate / IN_RATE) <= 2


def test_resampled_tone_keeps_its_frequency_and_level() -> None:
    n = IN_RATE
    x = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(n) / IN_RATE)).astype(np.float32)
    out = _run(StreamResampler(IN_RATE, 16000), [x])
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) * 16000 / out.size == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(out[1000:-1000] ** 2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_reuse_after_finish_gives_same_output() -> None:
    x = _signal(5000)
    r = StreamResampler(IN_RATE, 44100)
    first = _run(r, _arbitrary_chunks(x, 1))
    second = _run(r, _arbitrary_chunks(x, 2))
    np.testing.assert_array_equal(first, second)


def test_identity_at_equal_rates() -> None:
    x = _signal(1000)
    r = StreamResampler(IN_RATE, IN_RATE)
    assert r.is_identity
    assert r.process(x) is x  # no copy, no delay
    assert r.finish().size == 0
    assert r.process(x) is x


def test_float64_accepted_and_bad_input_rejected() -> None:
    r = StreamResampler(IN_RATE, 48000)
    assert r.process(_signal(100).astype(np.float64)).dtype == np.float32
    with pytest.raises(ValueError):
        r.process(np.zeros(10, dtype=np.int16))
    with pytest.raises(ValueError):
        r.process(np.zeros((10, 2), dtype=np.float32))


@pytest.mark.parametrize("rates", [(0, 24000), (24000, -1), (24000.0, 16000)])
def test_bad_rates(rates: tuple[int, int]) -> None:
    with pytest.raises(ValueError, match="rate"):
        StreamResampler(*rates)
