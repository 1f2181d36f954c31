"""English forced alignment with pocketsphinx: its acoustic model and dictionary ship in the wheel.

The known text is aligned against the audio just made (resampled to 16 kHz): decode
once with the text as the grammar, then again with phone alignment (pocketsphinx 5:
`set_align_text`, decode, `set_alignment`, decode, `get_alignment`). Words are looked
up in the bundled CMU dictionary after lowering and stripping punctuation; numbers and
a few symbols are spelled out as read (`42` -> `forty two`). A word the dictionary
lacks even so (a rare name, a made-up word) is left out of the grammar and given the
time between its aligned neighbours; a segment with too many such words, or one the
decoder cannot align, raises AlignmentFailed and the caller falls back to estimates.
"""

from __future__ import annotations

import queue
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final

import numpy as np

from realtime.audio.resample import resample_whole
from realtime.words.numbers import ABBREVIATIONS, number_words, symbol_word
from realtime.words.splitter import WordSpan, spoken_core

ALIGNER_NAME: Final = "pocketsphinx"
ALIGN_RATE: Final = 16000
FRAME_SECONDS: Final = 0.01  # pocketsphinx reports alignment in 10 ms frames
MAX_UNKNOWN_FRACTION: Final = 1 / 3
_POOL_SIZE: Final = 4
_VARIANT: Final = re.compile(r"\(\d+\)$")
_PIECE: Final = re.compile(r"[^\W_]+(?:['’][^\W_]+)*|[&%+=@$€£]")


class AlignmentFailed(Exception):
    """The aligner cannot time this segment; the reason says why (for the client's notice)."""


class AlignerNotReady(AlignmentFailed):
    """The aligner's model is not loaded (yet): the segment falls back now, and the model should be loaded."""


class SphinxAligner:
    """Aligns English segments; decoders (about 0.5 s to load each) are pooled and reused."""

    name = ALIGNER_NAME

    def __init__(self) -> None:
        self._decoders: queue.LifoQueue[Any] = queue.LifoQueue()
        self._made = 0

    def warm(self) -> None:
        """Load one decoder ahead of the first segment (blocking: about half a second)."""
        if self._decoders.empty():
            with self._decoder():
                pass

    @contextmanager
    def _decoder(self) -> Iterator[Any]:
        try:
            decoder = self._decoders.get_nowait()
        except queue.Empty:
            from pocketsphinx import Decoder  # imported on first use: servers without timestamps never load it

            decoder = Decoder(samprate=ALIGN_RATE, bestpath=False, loglevel="FATAL")
        try:
            yield decoder
        finally:
            if self._decoders.qsize() < _POOL_SIZE:
                self._decoders.put(decoder)

    def close(self) -> None:
        """Drop the pooled decoders."""
        while not self._decoders.empty():
            self._decoders.get_nowait()

    def dictionary_words(self, word: str, decoder: Any) -> list[str] | None:
        """The dictionary words a reader says for `word`, or None when one of them is unknown."""
        core = _lookup_form(word)
        if not core:
            return None
        if core in ABBREVIATIONS:
            return ABBREVIATIONS[core]
        if decoder.lookup_word(core) is not None:
            return [core]
        said: list[str] = []
        for piece in _PIECE.findall(core):
            spelled = number_words(piece) or ([symbol_word(piece)] if symbol_word(piece) else None) or [piece]
            said.extend(spelled)
        if not said or any(decoder.lookup_word(part) is None for part in said):
            return None
        return said

    def align(self, spans: Sequence[WordSpan], samples: np.ndarray, sample_rate: int) -> list[tuple[float, float] | None]:
        """Each word's (start, end) in seconds from the audio's start; None for a word left out of the grammar."""
        if not spans:
            return []
        with self._decoder() as decoder:
            said = [self.dictionary_words(span.text, decoder) for span in spans]
            unknown = sum(1 for parts in said if parts is None)
            if unknown == len(spans) or unknown > MAX_UNKNOWN_FRACTION * len(spans):
                raise AlignmentFailed(f"{unknown} of {len(spans)} words are not in the aligner's English dictionary")
            pcm = _pcm16(samples, sample_rate)
            if len(pcm) < 2 * int(ALIGN_RATE * FRAME_SECONDS) * 2:
                raise AlignmentFailed("the segment's audio is too short to align")
            try:
                return _assign(said, _run_alignment(decoder, said, pcm))
            except RuntimeError as exc:
                # A spelled-out number or abbreviation read differently can break the whole grammar:
                # try again with only the words taken from the dictionary as written.
                plain = [parts if parts == [_lookup_form(span.text)] else None for span, parts in zip(spans, said)]
                known = sum(1 for parts in plain if parts is not None)
                if known == len(said) or known == 0 or len(said) - known > MAX_UNKNOWN_FRACTION * len(said):
                    raise AlignmentFailed(f"pocketsphinx could not align the segment ({exc})") from exc
                try:
                    return _assign(plain, _run_alignment(decoder, plain, pcm))
                except RuntimeError as again:
                    raise AlignmentFailed(f"pocketsphinx could not align the segment ({again})") from again


def _lookup_form(word: str) -> str:
    return spoken_core(word).lower().replace("’", "'")


def _run_alignment(decoder: Any, said: Sequence[list[str] | None], pcm: bytes) -> list[tuple[str, int, int]]:
    """Decode with the words as grammar, then with phone alignment; raises RuntimeError when it cannot."""
    decoder.set_align_text(" ".join(part for parts in said if parts for part in parts))
    _decode(decoder, pcm)
    decoder.set_alignment()
    _decode(decoder, pcm)
    return [(_VARIANT.sub("", entry.name), entry.start, entry.duration) for entry in decoder.get_alignment()]


def _decode(decoder: Any, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _pcm16(samples: np.ndarray, sample_rate: int) -> bytes:
    audio = resample_whole(samples, sample_rate, ALIGN_RATE)
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _assign(
    said: Sequence[list[str] | None], aligned: Sequence[tuple[str, int, int]]
) -> list[tuple[float, float] | None]:
    """Map the aligner's dictionary words (silences and fillers between them) back onto the segment's words."""
    entries = iter(entry for entry in aligned if not (entry[0].startswith("<") or entry[0].startswith("[") or entry[0].startswith("+")))
    times: list[tuple[float, float] | None] = []
    for parts in said:
        if parts is None:
            times.append(None)
            continue
        start = end = None
        for part in parts:
            entry = next(entries, None)
            if entry is None or entry[0] != part:
                raise RuntimeError("pocketsphinx returned an alignment that does not match the text")
            if start is None:
                start = entry[1]
            end = entry[1] + entry[2]
        assert start is not None and end is not None
        times.append((start * FRAME_SECONDS, end * FRAME_SECONDS))
    return times
