"""Word times for one segment: a real aligner when one fits the text, estimates otherwise. Never an error.

English text (the embedded engine, or a Qwen3 voice whose language is English or
auto) goes to pocketsphinx; any other text, or a segment it cannot align, gets times
estimated from its characters (`source: "estimated"`), the latter with a notice saying
why. Alignment runs in its own small thread pool, after the segment's audio was made,
so it never delays audio.
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from realtime.words.english import AlignmentFailed, SphinxAligner
from realtime.words.splitter import WordSpan, is_cjk, is_spoken, split_words
from realtime.words.timing import ESTIMATED, SegmentAudio, TimedWord, estimate, interpolate

logger = logging.getLogger(__name__)

TIMESTAMPS: Final = ("none", "word")
ENGLISH_LANGUAGES: Final = ("english", "auto")


@dataclass(frozen=True, slots=True)
class SegmentWords:
    """One segment's words on the context's timeline, how they were found, and what to tell the client."""

    words: list[TimedWord]
    source: str
    sample_rate: int
    notice: str | None = None

    def wire_words(self) -> list[dict[str, Any]]:
        return [word.to_wire(self.sample_rate) for word in self.words]


def looks_english(text: str) -> bool:
    """Latin script only: what an English dictionary may know (no CJK, no other alphabets)."""
    letters = [char for char in text if is_spoken(char) and not char.isdigit()]
    return bool(letters) and not any(is_cjk(char) for char in letters) and all(
        char.isascii() or char in "éèêëàâäîïôöûüçñ" for char in (c.lower() for c in letters)
    )


class WordTimer:
    """Times the words of segments; one per server (its aligner's decoders are pooled)."""

    def __init__(self, threads: int | None = None) -> None:
        self._english = SphinxAligner()
        self._threads = threads or max(1, min(2, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._warming = False

    def time_words(
        self, text: str, samples: np.ndarray, engine_rate: int, audio: SegmentAudio, language: str
    ) -> SegmentWords:
        """Blocking: run off the event loop (see `time_words_off_loop`)."""
        spans = split_words(text)
        if language not in ENGLISH_LANGUAGES or not looks_english(text) or audio.samples == 0:
            return SegmentWords(estimate(spans, audio), ESTIMATED, audio.sample_rate)
        try:
            seconds = self._english.align(spans, samples, engine_rate)
        except AlignmentFailed as exc:
            return self._fallback(spans, audio, str(exc))
        except Exception as exc:  # an aligner bug must cost the client precision, never the segment
            logger.exception("word alignment failed")
            return self._fallback(spans, audio, f"{type(exc).__name__}: {exc}")
        engine_samples = max(1, len(samples))
        times = [
            None if span is None else (_place(span[0], engine_rate, engine_samples, audio),
                                       _place(span[1], engine_rate, engine_samples, audio))
            for span in seconds
        ]
        return SegmentWords(interpolate(spans, times, audio), self._english.name, audio.sample_rate)

    @staticmethod
    def _fallback(spans: list[WordSpan], audio: SegmentAudio, reason: str) -> SegmentWords:
        notice = f"word times for this segment are estimated: {reason}"
        return SegmentWords(estimate(spans, audio), ESTIMATED, audio.sample_rate, notice)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="word-align")
        return self._pool

    def prepare(self) -> None:
        """A context will want words: load the English aligner now, in the background, if it is not yet.

        Its first decoder takes about half a second to load: started when the context opens, it is
        ready by the time the first segment's audio is made.
        """
        if not self._warming:
            self._warming = True
            self._executor().submit(self._warm)

    def _warm(self) -> None:
        try:
            self._english.warm()
        except Exception:  # the segment's own alignment will report it as a fallback
            logger.exception("loading the English aligner failed")

    async def time_words_off_loop(
        self, text: str, samples: np.ndarray, engine_rate: int, audio: SegmentAudio, language: str
    ) -> SegmentWords:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self.time_words, text, samples, engine_rate, audio, language
        )

    def shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _place(seconds: float, engine_rate: int, engine_samples: int, audio: SegmentAudio) -> int:
    """A time in the engine's audio as a sample on the context's timeline (the segment's output may differ in length)."""
    fraction = min(max(seconds * engine_rate / engine_samples, 0.0), 1.0)
    return audio.start_sample + round(fraction * audio.samples)
