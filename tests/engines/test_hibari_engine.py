from __future__ import annotations

import numpy as np
import pytest

from realtime.engines.base import CancelFlag, VoiceRequest
from realtime.engines.hibari_engine import FIRST_PIECE_SAMPLES, PIECE_SAMPLES, HibariEngine, split_pieces
from realtime.protocol.messages import GenerationParams, VoiceSpec


@pytest.fixture(scope="module")
def engine() -> HibariEngine:
    loaded = HibariEngine(threads=1)
    loaded.load()
    return loaded


def voice(engine: HibariEngine, seed: int = 1):
    return engine.open_voice(VoiceRequest(spec=VoiceSpec(), model="hibari", seed=seed))


def test_first_piece_is_short_then_pieces_are_regular() -> None:
    pieces = split_pieces(np.zeros(20000, np.float32), first=True)
    assert len(pieces[0]) == FIRST_PIECE_SAMPLES
    assert all(len(p) == PIECE_SAMPLES for p in pieces[1:-1])
    assert sum(len(p) for p in pieces) == 20000
    assert len(split_pieces(np.zeros(20000, np.float32), first=False)[0]) == PIECE_SAMPLES


def test_a_segment_streams_pieces_and_marks_only_the_last_final(engine) -> None:
    chunks = list(voice(engine).synthesize("Hello there, this is a longer sentence to split.", CancelFlag()))
    assert len(chunks) > 3
    assert [c.final for c in chunks] == [False] * (len(chunks) - 1) + [True]
    assert all(c.samples.dtype == np.float32 for c in chunks)


def test_text_it_cannot_read_still_closes_the_segment(engine) -> None:
    chunks = list(voice(engine).synthesize("你好", CancelFlag()))
    assert len(chunks) == 1 and chunks[0].final and len(chunks[0].samples) == 0


def test_cancel_stops_before_the_next_step(engine) -> None:
    cancel = CancelFlag()
    stream = voice(engine).synthesize("One sentence here. Another one there. And a third.", cancel)
    next(stream)
    cancel.set()
    assert list(stream) == []


def test_a_voice_replays_its_seed_segment_after_segment(engine) -> None:
    def render(seed: int) -> np.ndarray:
        v = voice(engine, seed)
        return np.concatenate([c.samples for text in ("First one.", "Second one.") for c in v.synthesize(text, CancelFlag())])

    assert np.array_equal(render(5), render(5))
    assert not np.array_equal(render(5), render(6))


def test_check_names_what_the_model_cannot_serve(engine) -> None:
    errors = engine.check(
        VoiceSpec(speaker="bob", instruct="cheerful", language="german", generation=GenerationParams(temperature=0.5))
    )
    assert [e.field for e in errors] == ["speaker", "language"]
    assert "heart" in errors[0].message
    assert engine.check(VoiceSpec(speaker="Heart", language="english")) == []


def test_settings_it_cannot_use_are_ignored_with_a_notice(engine) -> None:
    spec = VoiceSpec(instruct="cheerful", generation=GenerationParams(temperature=0.5, top_k=3))
    assert engine.check(spec) == []
    instruct, generation = engine.notices(spec)
    assert "instruct" in instruct and "ignored" in instruct
    assert "temperature" in generation and "top_k" in generation and "ignored" in generation
    assert engine.notices(VoiceSpec()) == ()
