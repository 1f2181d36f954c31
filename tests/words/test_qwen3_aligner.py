"""Qwen3-ForcedAligner: the words it is given, how its answers become word times, the aligner chain and its fallbacks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.words.aligner import SegmentWords, WordTimer
from realtime.words.english import AlignmentFailed
from realtime.words.qwen3_aligner import (
    ALIGNER_NAME,
    AUDIO_PROMPT,
    Qwen3Aligner,
    aligner_prompt,
    aligner_word,
    ordered_boundaries,
    word_times,
)
from realtime.words.splitter import WordSpan, split_words
from realtime.words.timing import ESTIMATED, SegmentAudio

RATE = 24000


# -- the words it reads -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "read"),
    [("Hello,", "Hello"), ("(yes)", "yes"), ("It's", "It's"), ("don’t", "don't"), ("3.5%", "35"), ("e-mail", "email"),
     ("好，", "好"), ("2024", "2024"), ("&", ""), ("—", ""), ("Ärger!", "Ärger"), ("привет.", "привет")],
)
def test_a_word_is_read_as_its_letters_digits_and_apostrophes(word: str, read: str) -> None:
    assert aligner_word(word) == read


def test_the_prompt_gives_each_word_a_start_and_an_end_slot_after_the_audio() -> None:
    assert aligner_prompt(["我", "Python"]) == AUDIO_PROMPT + "我<timestamp><timestamp>Python<timestamp><timestamp>"
    assert aligner_prompt([]) == AUDIO_PROMPT


# -- its answers --------------------------------------------------------------------------------------


def test_out_of_order_boundaries_are_dropped_and_the_longest_ordered_run_kept() -> None:
    assert ordered_boundaries([]) == []
    assert ordered_boundaries([80, 160, 160, 240]) == [80, 160, 160, 240]
    assert ordered_boundaries([80, 4000, 160, 240]) == [80, None, 160, 240]
    assert ordered_boundaries([500, 80, 160]) == [None, 80, 160]
    assert ordered_boundaries([80, 160, 0, 0, 0, 400]) == [None, None, 0, 0, 0, 400]


def _longest_ordered_length(values: Sequence[float]) -> int:
    best = [1] * len(values)
    for i in range(len(values)):
        for j in range(i):
            if values[j] <= values[i]:
                best[i] = max(best[i], best[j] + 1)
    return max(best, default=0)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.integers(min_value=0, max_value=30).map(lambda step: step * 80.0), max_size=24))
def test_the_kept_boundaries_are_ordered_and_as_many_as_can_be(values: list[float]) -> None:
    kept = ordered_boundaries(values)
    assert len(kept) == len(values)
    survivors = [value for value in kept if value is not None]
    assert survivors == sorted(survivors)
    assert all(k is None or k == v for k, v in zip(kept, values))
    assert len(survivors) == _longest_ordered_length(values)


def test_word_times_are_seconds_with_a_word_past_the_audio_left_out() -> None:
    assert word_times([0, 240, 240, 560, 1600, 1700], 3, audio_seconds=1.0) == [(0.0, 0.24), (0.24, 0.56), None]
    assert word_times([0, 240, 400, 1200], 2, audio_seconds=1.0) == [(0.0, 0.24), (0.4, 1.0)]  # the end is clipped


def test_answers_that_do_not_fit_the_words_are_an_alignment_failure() -> None:
    with pytest.raises(AlignmentFailed, match="3 timestamps for 2 words"):
        word_times([0, 80, 160], 2, audio_seconds=1.0)
    with pytest.raises(AlignmentFailed, match="no word inside"):
        word_times([4000, 4000, 4080, 4160], 2, audio_seconds=1.0)


# -- the chain of aligners -------------------------------------------------------------------------------


class ScriptedAligner:
    """A stand-in for the Qwen3 aligner: answers evenly spread words, or fails with a reason."""

    name = "scripted"

    def __init__(self, failure: Exception | None = None) -> None:
        self.failure = failure
        self.calls = 0
        self.warmed = 0
        self.closed = False

    def warm(self) -> None:
        self.warmed += 1

    def close(self) -> None:
        self.closed = True

    def align(self, spans: Sequence[WordSpan], samples: np.ndarray, sample_rate: int) -> list[tuple[float, float] | None]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        step = len(samples) / sample_rate / len(spans)
        return [(index * step, (index + 1) * step) for index in range(len(spans))]


@pytest.fixture
def scripted() -> ScriptedAligner:
    return ScriptedAligner()


def _timer(aligner: ScriptedAligner, languages: Sequence[str] = ("chinese", "english")) -> WordTimer:
    return WordTimer(threads=1, multilingual=aligner, languages=languages)


def _audio(seconds: float = 1.0) -> np.ndarray:
    return (0.1 * np.sin(np.arange(int(seconds * RATE)) * 0.05)).astype(np.float32)


def test_the_multilingual_aligner_times_its_languages_and_auto(scripted: ScriptedAligner) -> None:
    timer = _timer(scripted)
    span = SegmentAudio(4800, RATE, RATE)
    for text, language in (("我们在2024年见。", "chinese"), ("Hello there.", "english"), ("你好。", "auto")):
        result = timer.time_words(text, _audio(), RATE, span, language)
        assert result.source == "scripted" and result.notice is None
        assert [w.span for w in result.words] == split_words(text)
        assert result.words[0].start_sample == 4800 and result.words[-1].end_sample == 4800 + RATE
    assert timer.aligners_for("Bonjour.", "french") == []  # not among its languages: estimated
    assert timer.time_words("Bonjour.", _audio(), RATE, span, "french").source == ESTIMATED


def test_english_tries_pocketsphinx_first_when_the_aligner_runs_on_the_cpu(scripted: ScriptedAligner) -> None:
    on_cpu = WordTimer(threads=1, multilingual=scripted, english_first=True)
    on_gpu = WordTimer(threads=1, multilingual=scripted)
    assert [a.name for a in on_cpu.aligners_for("Hello there.", "english")] == ["pocketsphinx", "scripted"]
    assert [a.name for a in on_gpu.aligners_for("Hello there.", "english")] == ["scripted", "pocketsphinx"]
    assert [a.name for a in on_cpu.aligners_for("你好。", "auto")] == ["scripted"]
    assert [a.name for a in on_cpu.aligners_for("Hola, amigo.", "spanish")] == ["scripted"]
    assert [a.name for a in WordTimer(threads=1).aligners_for("Hello there.", "english")] == ["pocketsphinx"]
    assert WordTimer(threads=1).aligners_for("你好。", "chinese") == []


def test_words_pocketsphinx_cannot_align_go_to_the_multilingual_aligner(scripted: ScriptedAligner) -> None:
    timer = WordTimer(threads=1, multilingual=scripted, english_first=True)
    result = timer.time_words("Zyxwv qwrtp blorf.", _audio(), RATE, SegmentAudio(0, RATE, RATE), "english")
    timer.shutdown()
    assert scripted.calls == 1 and result.source == "scripted" and result.notice is None


def test_a_failing_multilingual_aligner_falls_back_to_pocketsphinx_for_english() -> None:
    failing = ScriptedAligner(AlignmentFailed("the aligner placed no word inside the segment's audio"))
    from hibari import Hibari

    audio = np.asarray(Hibari(threads=1)("Good morning, everyone.", seed=3), dtype=np.float32).ravel()
    timer = _timer(failing)
    result = timer.time_words("Good morning, everyone.", audio, RATE, SegmentAudio(0, len(audio), RATE), "english")
    timer.shutdown()
    assert failing.calls == 1 and result.source == "pocketsphinx" and result.notice is None


def test_a_failing_multilingual_aligner_gives_estimates_with_a_notice_saying_why() -> None:
    timer = _timer(ScriptedAligner(AlignmentFailed("the segment's audio is too short to align")))
    result = timer.time_words("我们见。", _audio(), RATE, SegmentAudio(0, RATE, RATE), "chinese")
    assert result.source == ESTIMATED
    assert result.notice == "word times for this segment are estimated: the segment's audio is too short to align"
    broken = _timer(ScriptedAligner(RuntimeError("boom")))
    result = broken.time_words("我们见。", _audio(), RATE, SegmentAudio(0, RATE, RATE), "chinese")
    assert result.source == ESTIMATED and result.notice is not None and "RuntimeError: boom" in result.notice


def test_when_every_aligner_fails_the_notice_names_each() -> None:
    timer = _timer(ScriptedAligner(AlignmentFailed("no luck")))
    silence = np.zeros(RATE, dtype=np.float32)
    result = timer.time_words("Zyxwv qwrtp.", silence, RATE, SegmentAudio(0, RATE, RATE), "english")
    timer.shutdown()
    assert result.source == ESTIMATED and result.notice is not None
    assert "scripted: no luck" in result.notice and "pocketsphinx: " in result.notice


def test_preparing_a_context_warms_the_multilingual_aligner(scripted: ScriptedAligner) -> None:
    import time

    timer = _timer(scripted)
    timer.prepare()
    deadline = time.monotonic() + 30
    while scripted.warmed == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    timer.shutdown()
    assert scripted.warmed == 1 and scripted.closed  # the server stopping frees the aligner's model


# -- the real aligner on a tiny random checkpoint, through the model manager ---------------------------


@pytest.fixture(scope="module")
def qwen3_aligner(tiny_aligner: Path) -> Iterator[Qwen3Aligner]:
    import torch

    from realtime.engines.qwen3.aligner_checkpoints import read_aligner_checkpoint
    from realtime.engines.qwen3.manager import ModelManager, official_loader
    from realtime.engines.qwen3.runtime import LoadOptions

    torch.set_num_threads(1)
    checkpoint = read_aligner_checkpoint(tiny_aligner)
    assert checkpoint is not None
    manager = ModelManager(official_loader(LoadOptions(device="cpu", dtype="float32")), idle_timeout_s=None)
    aligner = Qwen3Aligner(manager, checkpoint)
    aligner.warm()
    yield aligner
    manager.shutdown()


@pytest.mark.parametrize(
    "text", ["我们在2024年见，好吗？", "Hello there, it's 3.5% & more.", "こんにちは、世界。", "안녕하세요 여러분."]
)
def test_the_tiny_aligner_times_every_word_inside_the_audio(qwen3_aligner: Qwen3Aligner, text: str) -> None:
    timer = WordTimer(threads=1, multilingual=qwen3_aligner)
    span = SegmentAudio(2400, 9600, RATE)
    result = timer.time_words(text, _audio(0.4), RATE, span, "auto")
    assert result.source == ALIGNER_NAME and result.notice is None
    assert [w.span for w in result.words] == split_words(text)
    floor = span.start_sample
    for word in result.words:
        assert floor <= word.start_sample <= word.end_sample <= span.end_sample
        floor = word.end_sample
    stats = qwen3_aligner.manager.stats()
    assert stats.loads == 1 and stats.leases == 0  # loaded once, shared, and held only while aligning


def test_the_tiny_aligner_answers_two_timestamps_per_word_it_reads(qwen3_aligner: Qwen3Aligner) -> None:
    from realtime.words.qwen3_aligner import timestamp_boundaries

    with qwen3_aligner.manager.acquire(qwen3_aligner.checkpoint) as lease:
        boundaries = timestamp_boundaries(lease.model, ["我", "们", "Python"], np.zeros(8000, dtype=np.float32))
    assert len(boundaries) == 6
    assert all(value in {0.0, 80.0, 160.0, 240.0, 320.0} for value in boundaries)  # 5 classes of 80 ms


def test_audio_the_aligner_cannot_take_is_an_alignment_failure(qwen3_aligner: Qwen3Aligner) -> None:
    spans = split_words("我们见。")
    with pytest.raises(AlignmentFailed, match="too short"):
        qwen3_aligner.align(spans, np.zeros(100, dtype=np.float32), RATE)
    with pytest.raises(AlignmentFailed, match="no word the aligner can read"):
        qwen3_aligner.align(split_words("— & —"), _audio(), RATE)


def test_a_segment_never_waits_for_the_aligner_to_load(tiny_aligner: Path) -> None:
    """While the model loads, segments fall back at once (with a notice); once loaded, the aligner times them."""
    import threading
    import time

    from realtime.engines.qwen3.aligner_checkpoints import read_aligner_checkpoint
    from realtime.engines.qwen3.manager import ModelManager, official_loader
    from realtime.engines.qwen3.runtime import LoadOptions

    gate = threading.Event()
    load = official_loader(LoadOptions(device="cpu", dtype="float32"))

    def slow_loader(checkpoint):  # a load that lasts until the test opens the gate
        assert gate.wait(60)
        return load(checkpoint)

    checkpoint = read_aligner_checkpoint(tiny_aligner)
    assert checkpoint is not None
    manager = ModelManager(slow_loader, idle_timeout_s=None)
    timer = WordTimer(threads=2, multilingual=Qwen3Aligner(manager, checkpoint))
    span = SegmentAudio(0, 9600, RATE)
    try:
        with pytest.raises(AlignmentFailed, match="still loading"):
            Qwen3Aligner(manager, checkpoint).align(split_words("我们见。"), _audio(0.4), RATE)
        timer.prepare()  # a context opens: the load starts in the background
        result = timer.time_words("我们见。", _audio(0.4), RATE, span, "chinese")  # returns while the load waits
        assert result.source == ESTIMATED and result.notice is not None and "still loading" in result.notice
        gate.set()
        deadline = time.monotonic() + 60
        while manager.stats().loaded != ("tiny-forced-aligner",):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert timer.time_words("我们见。", _audio(0.4), RATE, span, "chinese").source == ALIGNER_NAME
    finally:
        gate.set()
        timer.shutdown()
        manager.shutdown()


def test_an_aligner_that_cannot_load_says_so_and_is_retried_for_later_segments(tmp_path: Path) -> None:
    from realtime.engines.qwen3.aligner_checkpoints import AlignerCheckpoint
    from realtime.engines.qwen3.manager import ModelManager

    attempts: list[str] = []

    def failing_loader(checkpoint):
        attempts.append(checkpoint.name)
        raise OSError("no weights here")

    manager = ModelManager(failing_loader, idle_timeout_s=None, retry_after_s=0.0)
    aligner = Qwen3Aligner(manager, AlignerCheckpoint("gone", tmp_path, ()))
    timer = WordTimer(threads=1, multilingual=aligner)
    try:
        with pytest.raises(Exception, match="no weights here"):
            aligner.warm()
        result = timer.time_words("我们见。", _audio(0.4), RATE, SegmentAudio(0, 9600, RATE), "chinese")
        assert result.source == ESTIMATED and result.notice is not None
        assert "forced aligner gone could not be loaded" in result.notice
        assert str(tmp_path) not in result.notice  # where the server keeps its models is not the client's business
        import time

        deadline = time.monotonic() + 30
        while len(attempts) < 2:  # the failed segment asked for the model again, in the background
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        timer.shutdown()
        manager.shutdown()


class StalledAligner(ScriptedAligner):
    """An aligner that answers only once released: the Qwen3 aligner on a busy CPU."""

    name = "stalled"

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.started = 0

    def align(self, spans: Sequence[WordSpan], samples: np.ndarray, sample_rate: int) -> list[tuple[float, float] | None]:
        self.started += 1
        self.release.wait(timeout=30)
        return super().align(spans, samples, sample_rate)


def test_words_an_aligner_is_too_slow_for_are_estimated_with_a_notice_and_audio_is_not_held() -> None:
    stalled = StalledAligner()
    timer = WordTimer(threads=1, multilingual=stalled, languages=("chinese",), wait_s=0.2)
    audio = SegmentAudio(0, RATE, RATE)

    async def both() -> tuple[SegmentWords, SegmentWords]:
        first = await timer.time_words_off_loop("你好世界。", _audio(), RATE, audio, "chinese")
        second = await timer.time_words_off_loop("再见。", _audio(), RATE, audio, "chinese")
        return first, second

    try:
        first, second = asyncio.run(both())
        stalled.release.set()
        timer._executor().submit(lambda: None).result(timeout=30)  # the pool has run all it still holds
    finally:
        stalled.release.set()
        timer.shutdown()
    for words, text in ((first, "你好世界。"), (second, "再见。")):
        assert words.source == ESTIMATED
        assert words.notice is not None and "longer than 0.2 s" in words.notice
        assert [w.span.text for w in words.words] == [span.text for span in split_words(text)]
    assert stalled.started == 1  # the second segment's alignment was dropped, not run late
