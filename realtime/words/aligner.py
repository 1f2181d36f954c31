"""Word times for one segment: a real aligner when one fits the text, estimates otherwise. Never an error.

English text (the embedded engine, or a Qwen3 voice whose language is English or auto)
goes to pocketsphinx. When a Qwen3-ForcedAligner checkpoint is installed, it times every
segment in a language it knows (any Qwen3 language, and `auto`): for English, ahead of
pocketsphinx when it runs on a GPU, after it (when pocketsphinx cannot align a segment)
when it runs on the CPU, where it costs seconds per second of audio against pocketsphinx's
tens of ms. Any other text, or a segment no aligner can align, gets times estimated from
its characters (`source: "estimated"`), the latter with a notice saying why. Alignment
runs in its own small thread pool, after the segment's audio was made, so it never
delays audio.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np

from realtime.words.english import AlignerNotReady, AlignmentFailed, SphinxAligner
from realtime.words.splitter import WordSpan, is_cjk, is_spoken, split_words
from realtime.words.timing import ESTIMATED, SegmentAudio, TimedWord, estimate, interpolate

logger = logging.getLogger(__name__)

TIMESTAMPS: Final = ("none", "word")
# How long a segment's words may hold the context's next audio back. Alignment runs after the
# segment's audio was made, but its words must go out before the next segment: past this the
# segment gets estimates with a notice (the Qwen3 aligner on a CPU costs seconds per second).
WORDS_WAIT_S: Final = 1.5
ENGLISH_LANGUAGES: Final = ("english", "auto")


class Aligner(Protocol):
    """Times known words in a segment's audio; raises AlignmentFailed (with the reason) when it cannot."""

    name: str

    def warm(self) -> None:
        """Load what the first alignment needs (blocking)."""

    def align(self, spans: Sequence[WordSpan], samples: np.ndarray, sample_rate: int) -> list[tuple[float, float] | None]:
        """Each word's (start, end) in seconds from the audio's start; None for a word left for interpolation."""

    def close(self) -> None:
        """Free what `warm` loaded (the server is stopping)."""


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
    """Times the words of segments; one per server (its aligners' models are shared and pooled)."""

    def __init__(
        self,
        threads: int | None = None,
        multilingual: Aligner | None = None,
        languages: Sequence[str] = (),
        english_first: bool = False,
        wait_s: float = WORDS_WAIT_S,
    ) -> None:
        """`multilingual`: the Qwen3 forced aligner, for `languages` (and `auto`; every language when empty);
        `english_first`: English text tries pocketsphinx before it (its CPU cost is much lower)."""
        self._english: Aligner = SphinxAligner()
        self._multilingual = multilingual
        self._multilingual_languages = frozenset(languages)
        self._english_first = english_first
        self._wait_s = wait_s
        self._threads = threads or max(1, min(2, os.cpu_count() or 1))
        self._pool: ThreadPoolExecutor | None = None
        self._warming = False
        self._multilingual_warming = False

    @property
    def multilingual(self) -> Aligner | None:
        return self._multilingual

    def aligners_for(self, text: str, language: str) -> list[Aligner]:
        """The aligners to try for this text, best first (empty: estimate)."""
        chain: list[Aligner] = []
        if self._multilingual is not None and (
            language == "auto" or not self._multilingual_languages or language in self._multilingual_languages
        ):
            chain.append(self._multilingual)
        if language in ENGLISH_LANGUAGES and looks_english(text):
            chain.insert(0 if self._english_first else len(chain), self._english)
        return chain

    def time_words(
        self, text: str, samples: np.ndarray, engine_rate: int, audio: SegmentAudio, language: str
    ) -> SegmentWords:
        """Blocking: run off the event loop (see `time_words_off_loop`)."""
        spans = split_words(text)
        chain = self.aligners_for(text, language) if audio.samples and spans else []
        if not chain:
            return SegmentWords(estimate(spans, audio), ESTIMATED, audio.sample_rate)
        reasons: list[str] = []
        for aligner in chain:
            try:
                seconds = aligner.align(spans, samples, engine_rate)
            except AlignerNotReady as exc:  # unloaded while idle, or never loaded: load it for the next segments
                self._warm_multilingual()
                reasons.append(_reason(aligner, str(exc), len(chain)))
                continue
            except AlignmentFailed as exc:
                reasons.append(_reason(aligner, str(exc), len(chain)))
                continue
            except Exception as exc:  # an aligner bug must cost the client precision, never the segment
                logger.exception("word alignment with %s failed", aligner.name)
                reasons.append(_reason(aligner, f"{type(exc).__name__}: {exc}", len(chain)))
                continue
            if reasons:
                logger.info("word times from %s after: %s", aligner.name, "; ".join(reasons))
            engine_samples = max(1, len(samples))
            times = [
                None if span is None else (_place(span[0], engine_rate, engine_samples, audio),
                                           _place(span[1], engine_rate, engine_samples, audio))
                for span in seconds
            ]
            return SegmentWords(interpolate(spans, times, audio), aligner.name, audio.sample_rate)
        return self._fallback(spans, audio, "; ".join(reasons))

    @staticmethod
    def _fallback(spans: list[WordSpan], audio: SegmentAudio, reason: str) -> SegmentWords:
        notice = f"word times for this segment are estimated: {reason}"
        return SegmentWords(estimate(spans, audio), ESTIMATED, audio.sample_rate, notice)

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="word-align")
        return self._pool

    def prepare(self) -> None:
        """A context will want words: load the aligners now, in the background, if they are not yet.

        pocketsphinx's first decoder takes about half a second to load: started when the context
        opens, it is ready by the time the first segment's audio is made. The Qwen3 aligner is
        asked for each time (cheap once loaded), as the model manager may have unloaded it; a
        segment never waits for its load (it falls back instead).
        """
        if not self._warming:
            self._warming = True
            self._executor().submit(self._warm, self._english)
        self._warm_multilingual()

    def _warm_multilingual(self) -> None:
        if self._multilingual is not None and not self._multilingual_warming:
            self._multilingual_warming = True
            self._executor().submit(self._warm, self._multilingual)

    def _warm(self, aligner: Aligner) -> None:
        try:
            aligner.warm()
        except Exception:  # the segment's own alignment will report it as a fallback
            logger.exception("loading the %s aligner failed", aligner.name)
        finally:
            if aligner is self._multilingual:
                self._multilingual_warming = False

    async def time_words_off_loop(
        self, text: str, samples: np.ndarray, engine_rate: int, audio: SegmentAudio, language: str
    ) -> SegmentWords:
        """`time_words` in the aligners' threads; past the wait budget, estimates with a notice.

        An alignment still running then finishes unheard (a thread cannot be stopped); one not
        yet started is dropped, so a slow aligner never builds a backlog of stale segments.
        """
        work = asyncio.get_running_loop().run_in_executor(
            self._executor(), self.time_words, text, samples, engine_rate, audio, language
        )
        try:  # (asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancel landing as the work ends)
            async with asyncio.timeout(self._wait_s):
                return await asyncio.shield(work)
        except TimeoutError:
            work.cancel()
            logger.info("word alignment took over %.1f s: estimates for this segment", self._wait_s)
            return self._fallback(
                split_words(text), audio, f"the aligner took longer than {self._wait_s:g} s, which would delay the audio"
            )

    def shutdown(self) -> None:
        """Stop the threads and free the aligners' models (a model manager shared with engines may already be shut)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        if self._multilingual is not None:
            self._multilingual.close()


def _reason(aligner: Aligner, reason: str, tried: int) -> str:
    """Why an aligner gave up, naming it when several were tried."""
    return f"{aligner.name}: {reason}" if tried > 1 else reason


def _place(seconds: float, engine_rate: int, engine_samples: int, audio: SegmentAudio) -> int:
    """A time in the engine's audio as a sample on the context's timeline (the segment's output may differ in length)."""
    fraction = min(max(seconds * engine_rate / engine_samples, 0.0), 1.0)
    return audio.start_sample + round(fraction * audio.samples)
