"""Forced alignment in every Qwen3 language with Qwen3-ForcedAligner (the `qwen-asr` package).

The aligner is a Qwen3-ASR model whose text head classifies, instead of predicting a
token, each `<timestamp>` slot of its prompt into a time step (`timestamp_segment_time`
ms each). The prompt is the audio placeholder, then every word followed by two slots
(its start and its end): one forward pass, no decoding loop. The words are ours
(realtime/words/splitter.py), cleaned as qwen-asr cleans them (letters, digits and
apostrophes), so each answer maps back onto a word of the segment with its offsets: CJK
text gives one word per character as qwen-asr does for Chinese; Japanese and Korean also
get our words (per character, per space-delimited word) instead of qwen-asr's nagisa and
soynlp splitters. A word with nothing left after cleaning (`&`) is left out of the
prompt and given the time between its neighbours.

The model's answers can be out of order; the longest non-decreasing run of boundaries is
kept (as qwen-asr does) and a word with a boundary outside it is interpolated. The model
itself comes from the shared ModelManager (loaded when a context asking for words opens,
unloaded when idle): each alignment holds a lease only while it runs, and never waits for
a load (a segment that ends before the model is loaded falls back), so a load never holds
back the next segment's audio.
"""

from __future__ import annotations

import bisect
import unicodedata
from collections.abc import Sequence
from typing import Any, Final

import numpy as np

from realtime.audio.resample import resample_whole
from realtime.engines.qwen3.aligner_checkpoints import AlignerCheckpoint
from realtime.engines.qwen3.manager import ModelManager
from realtime.words.english import AlignerNotReady, AlignmentFailed
from realtime.words.splitter import WordSpan

ALIGNER_NAME: Final = "qwen3-forced-aligner"
ALIGN_RATE: Final = 16000  # what the aligner's feature extractor takes
MAX_ALIGN_SECONDS: Final = 180.0  # qwen-asr's own bound on a forced-alignment input
MIN_ALIGN_SECONDS: Final = 0.1
TIMESTAMP: Final = "<timestamp>"
AUDIO_PROMPT: Final = "<|audio_start|><|audio_pad|><|audio_end|>"


def aligner_word(word: str) -> str:
    """The word as the aligner reads it: letters, digits and apostrophes only (qwen-asr's cleaning)."""
    return "".join(char for char in word.replace("’", "'") if char == "'" or _kept(char))


def _kept(char: str) -> bool:
    return unicodedata.category(char)[0] in ("L", "N")


def aligner_prompt(words: Sequence[str]) -> str:
    """The aligner's input text: the audio placeholder, then each word with its start and end slots."""
    return AUDIO_PROMPT + "".join(f"{word}{TIMESTAMP}{TIMESTAMP}" for word in words)


def ordered_boundaries(boundaries: Sequence[float]) -> list[float | None]:
    """Keep a longest non-decreasing run of the boundaries; the rest become None."""
    if not boundaries:
        return []
    # Patience sorting for the longest non-decreasing subsequence, with back-links to rebuild it.
    tails: list[float] = []
    tail_index: list[int] = []
    previous: list[int] = [-1] * len(boundaries)
    for index, value in enumerate(boundaries):
        place = bisect.bisect_right(tails, value)
        if place == len(tails):
            tails.append(value)
            tail_index.append(index)
        else:
            tails[place] = value
            tail_index[place] = index
        previous[index] = tail_index[place - 1] if place > 0 else -1
    kept: set[int] = set()
    cursor = tail_index[-1]
    while cursor != -1:
        kept.add(cursor)
        cursor = previous[cursor]
    return [value if index in kept else None for index, value in enumerate(boundaries)]


def word_times(boundaries_ms: Sequence[float], count: int, audio_seconds: float) -> list[tuple[float, float] | None]:
    """Each aligned word's (start, end) in seconds from its 2 boundaries; None where one is out of order or past the audio."""
    if len(boundaries_ms) != 2 * count:
        raise AlignmentFailed(f"the aligner answered {len(boundaries_ms)} timestamps for {count} words")
    kept = ordered_boundaries([float(value) for value in boundaries_ms])
    times: list[tuple[float, float] | None] = []
    for index in range(count):
        start, end = kept[2 * index], kept[2 * index + 1]
        if start is None or end is None or start / 1000.0 >= audio_seconds:
            times.append(None)
        else:
            times.append((start / 1000.0, min(end / 1000.0, audio_seconds)))
    if count and all(time is None for time in times):
        raise AlignmentFailed("the aligner placed no word inside the segment's audio")
    return times


class Qwen3Aligner:
    """Aligns segments of any Qwen3 language with the forced aligner held by the model manager."""

    name = ALIGNER_NAME

    def __init__(self, manager: ModelManager, checkpoint: AlignerCheckpoint) -> None:
        self.manager = manager
        self.checkpoint = checkpoint
        self._load_failed = False

    def warm(self) -> None:
        """Load the model now (blocking) if it is not loaded; a failure is remembered for the clients' notices."""
        try:
            with self.manager.acquire(self.checkpoint):
                self._load_failed = False
        except Exception:
            self._load_failed = True
            raise

    def close(self) -> None:
        """Free the model: shuts the manager down (idempotent; it may be shared with, and already shut by, the engines)."""
        self.manager.shutdown()

    def align(self, spans: Sequence[WordSpan], samples: np.ndarray, sample_rate: int) -> list[tuple[float, float] | None]:
        """Each word's (start, end) in seconds from the audio's start; None for a word the aligner could not place."""
        if not spans:
            return []
        said = [aligner_word(span.text) for span in spans]
        placed = [index for index, word in enumerate(said) if word]
        if not placed:
            raise AlignmentFailed("the segment has no word the aligner can read")
        seconds = len(samples) / sample_rate
        if seconds < MIN_ALIGN_SECONDS:
            raise AlignmentFailed("the segment's audio is too short to align")
        if seconds > MAX_ALIGN_SECONDS:
            raise AlignmentFailed(f"the segment's audio is longer than the aligner takes ({MAX_ALIGN_SECONDS:.0f} s)")
        lease = self.manager.lease_if_loaded(self.checkpoint)
        if lease is None:
            if self._load_failed:  # the cause (with server paths) is in the server log, not in the client's notice
                raise AlignerNotReady(f"the forced aligner {self.checkpoint.name} could not be loaded (see the server log)")
            raise AlignerNotReady("the forced aligner is still loading")
        audio = resample_whole(samples, sample_rate, ALIGN_RATE)
        with lease:
            boundaries = timestamp_boundaries(lease.model, [said[index] for index in placed], audio)
        found = word_times(boundaries, len(placed), seconds)
        times: list[tuple[float, float] | None] = [None] * len(spans)
        for index, time in zip(placed, found):
            times[index] = time
        return times


def timestamp_boundaries(aligner: Any, words: Sequence[str], audio: np.ndarray) -> list[float]:
    """One forward pass of a loaded `qwen_asr.Qwen3ForcedAligner`: the start and end of each word, in ms.

    The same steps as its `align`, minus its word splitting and repair (ours are above).
    """
    import torch

    inputs = aligner.processor(text=[aligner_prompt(words)], audio=[audio], return_tensors="pt", padding=True)
    inputs = inputs.to(aligner.model.device).to(aligner.model.dtype)
    with torch.inference_mode():
        logits = aligner.model.thinker(**inputs).logits
    slots = inputs["input_ids"][0] == aligner.timestamp_token_id
    steps = logits[0].argmax(dim=-1)[slots]
    return [float(step) * aligner.timestamp_segment_time for step in steps.tolist()]
