"""English forced alignment (pocketsphinx) on the embedded voice's own audio, and the fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from realtime.words.aligner import WordTimer, looks_english
from realtime.words.english import AlignmentFailed, SphinxAligner
from realtime.words.splitter import split_words
from realtime.words.timing import ESTIMATED, SegmentAudio

RATE = 24000


@pytest.fixture(scope="module")
def speak():
    from hibari import Hibari

    voice = Hibari(threads=1)
    return lambda text: np.asarray(voice(text, seed=3), dtype=np.float32).ravel()


@pytest.fixture(scope="module")
def timer():
    timer = WordTimer(threads=1)
    yield timer
    timer.shutdown()


def check_valid(result, text: str, audio: SegmentAudio) -> None:
    spans = split_words(text)
    assert [w.span for w in result.words] == spans
    floor = audio.start_sample
    for word in result.words:
        assert floor <= word.start_sample <= word.end_sample <= audio.end_sample
        floor = word.end_sample


def test_words_found_around_a_known_silence(speak, timer) -> None:
    """Two sentences joined by exactly one second of silence: the words must fall on the right side of it."""
    first, second = speak("Good morning, everyone."), speak("See you later.")
    gap = np.zeros(RATE, dtype=np.float32)
    audio = np.concatenate([first, gap, second])
    text = "Good morning, everyone. See you later."
    span = SegmentAudio(0, len(audio), RATE)
    result = timer.time_words(text, audio, RATE, span, "english")
    assert result.source == "pocketsphinx" and result.notice is None
    check_valid(result, text, span)
    everyone, see = result.words[2], result.words[3]
    tolerance = int(0.08 * RATE)
    assert everyone.end_sample <= len(first) + tolerance
    assert see.start_sample >= len(first) + len(gap) - tolerance
    assert see.start_sample - everyone.end_sample >= len(gap) - 2 * tolerance


def test_numbers_are_aligned_as_read(speak, timer) -> None:
    text = "She paid 42 dollars in 1984."
    audio = speak(text)
    span = SegmentAudio(12000, len(audio), RATE)
    result = timer.time_words(text, audio, RATE, span, "auto")
    assert result.source == "pocketsphinx", result.notice
    check_valid(result, text, span)
    number = result.words[2]
    assert number.end_sample - number.start_sample > 0.3 * RATE  # "forty two" is two words long


def test_a_few_unknown_words_get_the_time_between_their_neighbours(speak, timer) -> None:
    text = "The old Zyzzogeton sat by the river."
    audio = speak(text)
    span = SegmentAudio(0, len(audio), RATE)
    result = timer.time_words(text, audio, RATE, span, "english")
    assert result.source == "pocketsphinx"
    check_valid(result, text, span)
    unknown = result.words[2]
    assert result.words[1].end_sample == unknown.start_sample
    assert unknown.end_sample == result.words[3].start_sample


def test_mostly_unknown_words_fall_back_to_estimates_with_a_reason(speak, timer) -> None:
    text = "Zyzzx plorbt qwvvn."
    audio = speak(text)
    span = SegmentAudio(0, len(audio), RATE)
    result = timer.time_words(text, audio, RATE, span, "english")
    assert result.source == ESTIMATED
    assert result.notice and "estimated" in result.notice and "dictionary" in result.notice
    check_valid(result, text, span)


def test_audio_that_does_not_say_the_text_falls_back(timer) -> None:
    text = "This sentence was never spoken at all, not one word of it."
    audio = np.zeros(RATE // 20, dtype=np.float32)
    span = SegmentAudio(0, len(audio), RATE)
    result = timer.time_words(text, audio, RATE, span, "english")
    assert result.source == ESTIMATED and result.notice
    check_valid(result, text, span)


def test_the_aligner_refuses_rather_than_guesses() -> None:
    with pytest.raises(AlignmentFailed):
        SphinxAligner().align(split_words("Hello there."), np.zeros(100, dtype=np.float32), RATE)


def test_other_languages_are_estimated_without_a_notice(timer) -> None:
    text = "你好，世界。"
    audio = np.zeros(RATE, dtype=np.float32)
    span = SegmentAudio(0, RATE, RATE)
    for language in ("chinese", "auto"):
        result = timer.time_words(text, audio, RATE, span, language)
        assert result.source == ESTIMATED and result.notice is None
        check_valid(result, text, span)
    french = timer.time_words("Bonjour tout le monde.", audio, RATE, span, "french")
    assert french.source == ESTIMATED and french.notice is None


def test_looks_english() -> None:
    assert looks_english("Hello, 42 worlds!")
    assert looks_english("A café in Zürich.")
    assert not looks_english("你好 world")
    assert not looks_english("Привет")
    assert not looks_english("123 456")
