"""The leading-silence trimmer: where sound starts, the fixed faded lead-in, holding bounded, chunking ignored."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.audio.lead_in import AUDIBLE_LEVEL, LeadingSilenceTrimmer, fade_in, first_audible

RATE = 24000
LEAD = round(RATE * 0.005)


def speech_after(silence: int, length: int = 4800, floor: float = 1e-6, seed: int = 0) -> np.ndarray:
    """`silence` samples of near-silence (engine noise far under the threshold), then a loud tone."""
    rng = np.random.default_rng(seed)
    quiet = (rng.standard_normal(silence) * floor).astype(np.float32)
    tone = (0.3 * np.sin(np.arange(length) * 2 * np.pi * 220 / RATE) + 0.01).astype(np.float32)
    return np.concatenate([quiet, tone])


def run_trimmer(pieces: list[np.ndarray], trimmer: LeadingSilenceTrimmer | None = None) -> list[np.ndarray]:
    trimmer = trimmer or LeadingSilenceTrimmer(RATE)
    out = [got for piece in pieces for got in trimmer.push(piece)]
    return [*out, *trimmer.finish()]


def split(audio: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    edges = np.cumsum(sizes)[:-1]
    return list(np.split(audio, edges))


def test_first_audible_is_the_first_sample_over_minus_50_dbfs() -> None:
    samples = np.zeros(100, dtype=np.float32)
    samples[40] = AUDIBLE_LEVEL  # at the threshold: not over it
    samples[60] = -0.004
    assert first_audible(samples) == 60
    assert first_audible(np.zeros(10, dtype=np.float32)) is None
    assert abs(20 * np.log10(AUDIBLE_LEVEL) - -50.0) < 1e-9


def test_fade_in_rises_from_zero_and_leaves_the_rest() -> None:
    samples = np.ones(10, dtype=np.float32)
    faded = fade_in(samples, 4)
    assert faded.tolist() == [0.0, 0.25, 0.5, 0.75, 1, 1, 1, 1, 1, 1]
    assert samples.tolist() == [1.0] * 10  # a copy: the engine's buffer is not touched


def test_silence_before_speech_is_cut_to_the_lead_in_with_a_fade() -> None:
    audio = speech_after(6000)
    out = np.concatenate(run_trimmer(split(audio, [2400, 4800, 3600])))
    assert first_audible(out) == LEAD
    assert out[0] == 0.0 and np.all(np.abs(out[:LEAD]) <= AUDIBLE_LEVEL)
    assert np.array_equal(out[LEAD:], audio[6000:])  # the speech itself is untouched
    assert len(out) == len(audio) - (6000 - LEAD)


def test_the_first_piece_out_is_as_long_as_the_engines_first() -> None:
    pieces = split(speech_after(6000, length=9000), [2400, 4800, 4800, 3000])
    out = run_trimmer(pieces)
    # 6120 samples from the lead-in to the end of the third piece: the first 2400 (the engine's
    # first piece: a codec's first frame still fills it), the rest, then the engine's own pieces.
    assert [len(piece) for piece in out] == [2400, 6120 - 2400, 3000]


def test_sound_at_the_start_changes_nothing() -> None:
    audio = speech_after(LEAD // 2)
    pieces = split(audio, [2400, len(audio) - 2400])
    out = run_trimmer(pieces)
    assert np.array_equal(np.concatenate(out), audio)


def test_a_stream_that_never_gets_loud_goes_out_unchanged_at_its_end() -> None:
    quiet = np.full(3000, 1e-5, dtype=np.float32)
    trimmer = LeadingSilenceTrimmer(RATE)
    assert trimmer.push(quiet[:1000]) == [] and trimmer.push(quiet[1000:]) == []
    assert np.array_equal(np.concatenate(trimmer.finish()), quiet)


def test_holding_is_bounded_then_everything_passes() -> None:
    trimmer = LeadingSilenceTrimmer(RATE, max_held_ms=100)
    quiet = np.zeros(1200, dtype=np.float32)
    assert trimmer.push(quiet) == [] and trimmer.push(quiet) == []
    released = trimmer.push(quiet)  # 3600 samples held: over the 2400 allowed
    assert [len(piece) for piece in released] == [1200, 2400] and trimmer.passing
    loud = speech_after(3000)
    assert len(trimmer.push(loud)) == 1 and trimmer.push(loud)[0] is loud  # nothing trimmed after the bound


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    silence=st.integers(0, 24000),  # within the hold bound (1 s): past it, when audio goes out depends on chunking
    speech=st.integers(0, 6000),
    sizes=st.lists(st.integers(0, 5000), min_size=1, max_size=40),
)
def test_the_output_does_not_depend_on_how_the_engine_chunks(silence: int, speech: int, sizes: list[int]) -> None:
    audio = speech_after(silence, length=speech, seed=silence)
    pieces = split(audio, [*sizes, len(audio)]) if sum(sizes) < len(audio) else split(audio, sizes)
    pieces = [piece for piece in pieces if len(piece)] or [audio]
    whole_trimmer, chunked_trimmer = LeadingSilenceTrimmer(RATE), LeadingSilenceTrimmer(RATE)
    whole = np.concatenate(run_trimmer([audio], whole_trimmer))
    chunked = np.concatenate(run_trimmer(pieces, chunked_trimmer))
    if whole_trimmer.trimmed or chunked_trimmer.trimmed:
        assert np.array_equal(chunked, whole)  # the same cut, the same fade, wherever the chunks fall
    else:  # nothing cut (sound at once, or none at all): the audio as the engine made it
        assert np.array_equal(chunked, audio)
    assert len(chunked) + chunked_trimmer.trimmed == len(audio)  # the timeline is the audio sent, exactly
