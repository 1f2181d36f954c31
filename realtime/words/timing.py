"""Word times on a context's timeline, and estimates from characters when nothing better is known. Pure.

Times are kept in samples at the session's rate and turned into milliseconds with the
timeline's own formula (samples x 1000 / rate), so a word's `start_ms` compares exactly
with `audio.timestamp_ms`. Every word lies inside its segment's audio and none overlap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from realtime.words.splitter import WordSpan, is_cjk, is_spoken, spoken_core

ESTIMATED: Final = "estimated"

# Relative speaking time per character: a CJK character is a whole syllable, a digit is
# usually a word of its own when read, and a pause follows clause and sentence ends.
_CJK_WEIGHT: Final = 3.0
_DIGIT_WEIGHT: Final = 2.5
_LETTER_WEIGHT: Final = 1.0
_CLAUSE_PAUSE: Final = 2.0
_SENTENCE_PAUSE: Final = 4.0
_CLAUSE_MARKS: Final = frozenset(",;:，、；：")
_SENTENCE_MARKS: Final = frozenset(".!?…。！？")


@dataclass(frozen=True, slots=True)
class SegmentAudio:
    """Where a segment's audio lies on the context's timeline, in samples at `sample_rate`."""

    start_sample: int
    samples: int
    sample_rate: int

    @property
    def end_sample(self) -> int:
        return self.start_sample + self.samples


@dataclass(frozen=True, slots=True)
class TimedWord:
    span: WordSpan
    start_sample: int
    end_sample: int

    def to_wire(self, sample_rate: int) -> dict[str, Any]:
        return {
            "text": self.span.text,
            "start_ms": self.start_sample * 1000.0 / sample_rate,
            "end_ms": self.end_sample * 1000.0 / sample_rate,
            "char_start": self.span.char_start,
            "char_end": self.span.char_end,
        }


def speaking_weight(word: str) -> float:
    """How long a word takes to say, relative to one Latin letter."""
    weight = 0.0
    for char in word:
        if is_cjk(char):
            weight += _CJK_WEIGHT
        elif char.isdigit():
            weight += _DIGIT_WEIGHT
        elif is_spoken(char):
            weight += _LETTER_WEIGHT
    return max(weight, _LETTER_WEIGHT)


def pause_weight(word: str) -> float:
    """The pause a reader makes after the word, from the punctuation that closes it."""
    tail = word.rstrip("\"'”’)]）」』")  # a closing quote or bracket after the mark
    if not tail:
        return 0.0
    if tail[-1] in _SENTENCE_MARKS:
        return _SENTENCE_PAUSE
    if tail[-1] in _CLAUSE_MARKS:
        return _CLAUSE_PAUSE
    return 0.0


def estimate(spans: Sequence[WordSpan], audio: SegmentAudio) -> list[TimedWord]:
    """Words spread over the segment's audio by how long each takes to say, pauses left between them."""
    if not spans:
        return []
    weights = [speaking_weight(spoken_core(span.text) or span.text) for span in spans]
    pauses = [pause_weight(span.text) for span in spans[:-1]] + [0.0]
    total = sum(weights) + sum(pauses)
    words: list[TimedWord] = []
    position = 0.0
    for span, weight, pause in zip(spans, weights, pauses):
        start = audio.start_sample + round(position / total * audio.samples)
        position += weight
        end = audio.start_sample + round(position / total * audio.samples)
        position += pause
        words.append(TimedWord(span, start, end))
    return settle(words, audio)


def settle(words: Sequence[TimedWord], audio: SegmentAudio) -> list[TimedWord]:
    """Clamp into the segment's audio and make the words follow each other without overlap."""
    settled: list[TimedWord] = []
    floor = audio.start_sample
    for word in words:
        start = min(max(word.start_sample, floor), audio.end_sample)
        end = min(max(word.end_sample, start), audio.end_sample)
        settled.append(TimedWord(word.span, start, end))
        floor = end
    return settled


def interpolate(
    spans: Sequence[WordSpan], times: Sequence[tuple[int, int] | None], audio: SegmentAudio
) -> list[TimedWord]:
    """Words with known times keep them; a run of unknown ones shares the gap between its neighbours by weight."""
    words: list[TimedWord] = []
    index = 0
    count = len(spans)
    while index < count:
        known = times[index]
        if known is not None:
            words.append(TimedWord(spans[index], known[0], known[1]))
            index += 1
            continue
        run_end = index
        while run_end < count and times[run_end] is None:
            run_end += 1
        gap_start = words[-1].end_sample if words else audio.start_sample
        following = times[run_end] if run_end < count else None
        gap_end = following[0] if following is not None else audio.end_sample
        gap = SegmentAudio(gap_start, max(0, gap_end - gap_start), audio.sample_rate)
        words.extend(estimate(spans[index:run_end], gap))
        index = run_end
    return settle(words, audio)
