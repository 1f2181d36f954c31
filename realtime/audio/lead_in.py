"""Leading silence: where sound starts, and cutting what comes before it down to a short lead-in. Pure.

Engines put silence before speech (the embedded engine about 250-300 ms), so the first
byte reaches a voice agent long before anything it can hear. At the start of a stream
that silence only delays the answer; the trimmer cuts it to a fixed lead-in, faded in
from zero so the cut makes no click. It looks at the samples alone: the same audio in
gives the same audio out, however the engine chunks it.
"""

from __future__ import annotations

import numpy as np

AUDIBLE_DBFS = -50.0
"""A sample above this level (relative to full scale 1.0) is sound; everything below it before speech is silence."""
AUDIBLE_LEVEL = float(10 ** (AUDIBLE_DBFS / 20))
LEAD_IN_MS = 5.0
"""Silence kept in front of the first audible sample (faded in from zero over its whole length)."""
MAX_HELD_MS = 1000.0
"""Audio held while waiting for sound; past it the stream goes out as the engine made it (a silent stream is not held back forever)."""

_EMPTY = np.zeros(0, dtype=np.float32)


def first_audible(samples: np.ndarray, level: float = AUDIBLE_LEVEL) -> int | None:
    """Index of the first sample whose magnitude is above `level`, or None when there is none."""
    loud = np.flatnonzero(np.abs(samples) > level)
    return int(loud[0]) if len(loud) else None


def fade_in(samples: np.ndarray, length: int) -> np.ndarray:
    """A copy of `samples` whose first `length` samples rise linearly from zero."""
    out = np.array(samples, dtype=np.float32, copy=True)
    length = min(length, len(out))
    if length:
        out[:length] *= np.arange(length, dtype=np.float32) / np.float32(length)
    return out


class LeadingSilenceTrimmer:
    """Holds a stream's first samples until sound starts, then lets it through from `lead_in` samples before it.

    `push` returns the pieces to send now (none while it holds them); `finish` returns
    whatever is still held (a stream that never got loud enough goes out unchanged). The
    first piece it lets out is exactly as long as the first the engine made (the engine
    sized it: small for a quick start, large enough for a codec's first frame), unless the
    stream ends first; what it held beyond that follows as one more piece. Once it has let
    the first piece out, or held `max_held` samples with no sound, everything passes
    through untouched.
    """

    def __init__(self, sample_rate: int, lead_in_ms: float = LEAD_IN_MS, max_held_ms: float = MAX_HELD_MS) -> None:
        self.lead_in = round(sample_rate * lead_in_ms / 1000.0)
        self.max_held = round(sample_rate * max_held_ms / 1000.0)
        self._held: list[np.ndarray] = []
        self._held_samples = 0
        self._first_piece: int | None = None  # the length of the engine's first piece
        self._sound_found = False
        self.passing = False
        self.trimmed = 0  # samples cut from the front

    def push(self, samples: np.ndarray) -> list[np.ndarray]:
        if self.passing:
            return [samples]
        if self._first_piece is None:
            self._first_piece = len(samples)
        if not self._sound_found:
            start = first_audible(samples)
            if start is None:
                self._hold(samples)
                return self._release() if self._held_samples > self.max_held else []
            self._sound_found = True
            cut = max(0, self._held_samples + start - self.lead_in)
            samples = self._take_held(samples)
            if cut:  # else sound starts within the lead-in: nothing to trim, nothing changed
                self.trimmed = cut
                samples = fade_in(samples[cut:], self.lead_in)
        self._hold(samples)
        return self._release() if self._held_samples >= self._first_piece else []

    def finish(self) -> list[np.ndarray]:
        """The end of the stream: what is still held goes out as it is."""
        return [] if self.passing else self._release()

    def _hold(self, samples: np.ndarray) -> None:
        self._held.append(samples)
        self._held_samples += len(samples)

    def _take_held(self, tail: np.ndarray | None = None) -> np.ndarray:
        pieces = [*self._held, *([tail] if tail is not None else [])]
        self._held, self._held_samples = [], 0
        if not pieces:
            return _EMPTY
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def _release(self) -> list[np.ndarray]:
        """Everything held: the engine's first-piece length first, then the rest."""
        self.passing = True
        audio = self._take_held()
        first = self._first_piece or len(audio)
        return [piece for piece in (audio[:first], audio[first:]) if len(piece)] or [audio]
