"""Word times from characters, and the rules every word list keeps: in order, no overlap, inside the audio."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.words.splitter import split_words
from realtime.words.timing import SegmentAudio, TimedWord, estimate, interpolate, settle


def check_inside(words: list[TimedWord], audio: SegmentAudio) -> None:
    floor = audio.start_sample
    for word in words:
        assert floor <= word.start_sample <= word.end_sample <= audio.end_sample, (word, audio)
        floor = word.end_sample


def test_estimate_spreads_words_over_the_segment_by_length() -> None:
    audio = SegmentAudio(start_sample=48000, samples=24000, sample_rate=24000)
    words = estimate(split_words("a extraordinary day"), audio)
    check_inside(words, audio)
    assert words[0].start_sample == 48000 and words[-1].end_sample == 72000
    lengths = [w.end_sample - w.start_sample for w in words]
    assert lengths[1] > lengths[2] > lengths[0]


def test_estimate_leaves_a_pause_after_a_sentence_end() -> None:
    audio = SegmentAudio(0, 24000, 24000)
    first, second = estimate(split_words("Stop. Go"), audio)
    assert second.start_sample > first.end_sample


def test_a_cjk_character_counts_more_than_a_letter() -> None:
    audio = SegmentAudio(0, 24000, 24000)
    han, latin = estimate(split_words("好 a"), audio)
    assert han.end_sample - han.start_sample > latin.end_sample - latin.start_sample


def test_wire_times_use_the_timeline_formula() -> None:
    word = estimate(split_words("hello"), SegmentAudio(2205, 22050, 22050))[0]
    wire = word.to_wire(22050)
    assert wire["start_ms"] == 2205 * 1000.0 / 22050
    assert wire["end_ms"] == (2205 + 22050) * 1000.0 / 22050
    assert (wire["char_start"], wire["char_end"], wire["text"]) == (0, 5, "hello")


def test_interpolate_fills_unknown_words_between_their_neighbours() -> None:
    spans = split_words("one Zyzzx Qwert two")
    audio = SegmentAudio(0, 10000, 16000)
    words = interpolate(spans, [(1000, 2000), None, None, (6000, 7000)], audio)
    check_inside(words, audio)
    assert (words[0].start_sample, words[0].end_sample) == (1000, 2000)
    assert words[1].start_sample == 2000 and words[2].end_sample == 6000
    assert (words[3].start_sample, words[3].end_sample) == (6000, 7000)


def test_settle_clamps_and_removes_overlap() -> None:
    spans = split_words("a b c")
    audio = SegmentAudio(100, 100, 8000)
    raw = [TimedWord(spans[0], 50, 150), TimedWord(spans[1], 120, 180), TimedWord(spans[2], 170, 400)]
    words = settle(raw, audio)
    check_inside(words, audio)
    assert [(w.start_sample, w.end_sample) for w in words] == [(100, 150), (150, 180), (180, 200)]


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    st.text(alphabet=st.sampled_from(list("ab 1,.你。 ")), max_size=40),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.sampled_from([8000, 16000, 24000, 48000]),
    st.lists(st.one_of(st.none(), st.tuples(st.integers(-500, 2 * 10**6), st.integers(-500, 2 * 10**6))), max_size=40),
)
def test_any_times_come_out_in_order_and_inside_the_audio(
    text: str, start: int, length: int, rate: int, known: list[tuple[int, int] | None]
) -> None:
    spans = split_words(text)
    audio = SegmentAudio(start, length, rate)
    check_inside(estimate(spans, audio), audio)
    times = (known + [None] * len(spans))[: len(spans)]
    times = [None if t is None else (start + t[0], start + t[1]) for t in times]
    words = interpolate(spans, times, audio)
    assert [w.span for w in words] == spans
    check_inside(words, audio)
