"""Turn a context's text, arriving in arbitrary pieces, into segments to synthesise.

Pure and deterministic: in "auto" mode the segments depend on the text alone, never on
how it was split into messages. A cut is only decided once every character needed to
decide it has arrived; until then the text stays pending. Pending text is bounded by
`max_chars` (plus one char of lookahead), so rescanning it is cheap, and the scan also
resumes where it stopped so 1-char pieces stay linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Mode = Literal["auto", "line", "manual"]

# A run of these ends a sentence (Latin ones only when whitespace follows the closers).
LATIN_TERMINATORS = frozenset(".!?…")
CJK_TERMINATORS = frozenset("。！？；｡")
TERMINATORS = LATIN_TERMINATORS | CJK_TERMINATORS
# Closing quotes/brackets that stay with the sentence they close (Latin and CJK sets merged,
# since a mixed-script sentence may close either way).
CLOSERS = frozenset("\"'”’)]»」』）】〕")
# Opening brackets/quotes that may precede an abbreviation: "(Dr." is still "dr".
OPENERS = "([{\"'“‘«「『（【〔"
# Clause breaks that may end the first segment early (Latin ones need whitespace after).
LATIN_CLAUSE_BREAKS = frozenset(",;:—")
CJK_CLAUSE_BREAKS = frozenset("，、")
# Where the cap prefers to cut when there is no whitespace in the window.
CAP_CLAUSE_BREAKS = frozenset(",;:，、")

# Words after which a single "." is not a sentence end (compared lower-case).
ABBREVIATIONS = frozenset(
    {
        "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "cf",
        "fig", "no", "approx", "inc", "ltd", "co", "corp", "mt", "dept", "est", "gen", "gov",
        "sen", "rep", "lt", "col", "capt", "sgt", "jan", "feb", "mar", "apr", "jun", "jul",
        "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k",
    }
)
# Initials: "J", "J.K", "U.S" (letters, each but the last followed by a dot).
_INITIALS = re.compile(r"(?:[^\W\d_]\.)*[^\W\d_]")


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of text to synthesise, with where it sits in the context's full text."""

    text: str
    char_start: int
    char_end: int


@dataclass(frozen=True, slots=True)
class SegmenterPolicy:
    """How a context's text is cut; see the module docstring and `Segmenter`."""

    mode: Mode = "auto"
    max_chars: int = 250
    first_min_chars: int = 12
    first_max_chars: int = 80

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "line", "manual"):
            raise ValueError(f"mode must be 'auto', 'line' or 'manual', got {self.mode!r}")
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")
        if self.first_min_chars < 0 or self.first_max_chars < 0:
            raise ValueError("first_min_chars and first_max_chars must be >= 0")


def _skip(text: str, i: int, chars: frozenset[str], stop: int) -> int:
    """First index >= i that is `stop` or holds a char outside `chars`."""
    while i < stop and text[i] in chars:
        i += 1
    return i


def _skip_space(text: str, i: int) -> int:
    """First index >= i that is not whitespace (or len(text))."""
    n = len(text)
    while i < n and text[i].isspace():
        i += 1
    return i


def _is_abbreviation(text: str, start: int, dot: int) -> bool:
    """Whether the word before the "." at `dot` (within the segment) is an abbreviation or initial.

    The word runs back to the previous whitespace, minus opening brackets/quotes, so
    "(Dr" -> "dr" and "e.g" / "U.S" stay whole, while "Paul's" is a plain word.
    """
    i = dot
    while i > start and not text[i - 1].isspace():
        i -= 1
    word = text[i:dot].lstrip(OPENERS).lower()
    return word in ABBREVIATIONS or _INITIALS.fullmatch(word) is not None


def _ends_sentence(text: str, start: int, i: int, j: int, k: int) -> bool:
    """Whether punctuation text[i:j] plus closers text[j:k] end a sentence (text[k] exists).

    CJK punctuation needs nothing after it; Latin needs whitespace, and a lone "." after an
    abbreviation or initial is not an end.
    """
    if any(ch in CJK_TERMINATORS for ch in text[i:j]):
        return True
    if not text[k].isspace():
        return False
    return not (j - i == 1 and text[i] == "." and _is_abbreviation(text, start, i))


def _cap_cut(text: str, start: int, limit: int) -> int:
    """Where to cut a window with no natural cut: before the last whitespace, after the last
    clause break, else hard at `limit`. Needs text[limit] (a space there counts: the window
    then ends on a whole word)."""
    for c in range(limit, start, -1):
        if text[c].isspace():
            return c
    for p in range(limit - 1, start - 1, -1):
        if text[p] in CAP_CLAUSE_BREAKS:
            return p + 1
    return limit


def find_cut(
    text: str,
    start: int,
    scan: int,
    policy: SegmenterPolicy,
    *,
    first: bool,
    final: bool,
) -> tuple[int | None, int]:
    """End of the segment starting at `start` (a non-whitespace index), or None if undecidable yet.

    `scan` is where to resume examining (every index in [start, scan) is known not to cut);
    the second value returned is the new resume point. `first` enables the short first
    segment rule; `final` means no more text will come, so the end of `text` ends it.
    """
    n = len(text)
    limit = start + policy.max_chars  # a segment's slice is text[start:cut] with cut <= limit
    i = scan
    while i < limit:
        if i >= n:
            return (n if final else None), i
        c = text[i]
        if c == "\n":
            return i + 1, i
        if c in TERMINATORS:
            hi = min(n, limit + 1)
            j = _skip(text, i, TERMINATORS, hi)
            k = _skip(text, j, CLOSERS, hi)
            if k > limit:  # the punctuation runs past the window: no natural cut in it
                i = k
                continue
            if k == n:  # can't tell yet whether more punctuation/closers follow
                return (n if final else None), i
            if _ends_sentence(text, start, i, j, k):
                return k, i
            i = k
            continue
        if first and (c in LATIN_CLAUSE_BREAKS or c in CJK_CLAUSE_BREAKS):
            length = i + 1 - start
            if policy.first_min_chars <= length <= policy.first_max_chars:
                if c in CJK_CLAUSE_BREAKS:
                    return i + 1, i
                if i + 1 == n:
                    return (n if final else None), i
                if text[i + 1].isspace():
                    return i + 1, i
        i += 1
    if n <= limit:  # the cap needs text[limit]; at the end, the rest is short enough anyway
        return (n if final else None), i
    return _cap_cut(text, start, limit), i


def split_text(text: str, policy: SegmenterPolicy, *, first: bool, offset: int = 0) -> list[Segment]:
    """Segment a complete text at once by the auto rules (as if fed whole and flushed)."""
    segments: list[Segment] = []
    start = _skip_space(text, 0)
    while start < len(text):
        cut, _ = find_cut(text, start, start, policy, first=first and not segments, final=True)
        assert cut is not None  # final=True always decides
        segments.append(_make_segment(text, start, cut, offset))
        start = _skip_space(text, cut)
    return segments


def _make_segment(text: str, start: int, cut: int, offset: int) -> Segment:
    """The segment for text[start:cut], right-stripped (start is already non-whitespace)."""
    stripped = text[start:cut].rstrip()
    return Segment(stripped, offset + start, offset + start + len(stripped))


class Segmenter:
    """Stateful segmenter for one context; feed it text messages, flush when the client does.

    Buffer layout: `_buf[_start:]` plus `_parts` is the pending text; `_buf[0]` sits at
    offset `_base` in the full text. `_start` always points at a non-whitespace char (or
    the end), so leading whitespace is dropped as soon as it arrives.
    """

    def __init__(self, policy: SegmenterPolicy = SegmenterPolicy()) -> None:
        self._policy = policy
        self._buf = ""
        self._parts: list[str] = []
        self._base = 0
        self._start = 0
        self._scan = 0
        self._received = 0
        self._emitted = 0

    @property
    def policy(self) -> SegmenterPolicy:
        return self._policy

    @property
    def pending_chars(self) -> int:
        """Chars received but not yet in a returned segment (leading whitespace excluded)."""
        return self._received - (self._base + self._start)

    @property
    def segments_emitted(self) -> int:
        return self._emitted

    def feed(self, text: str) -> list[Segment]:
        """Append one `text` message; return the segments that became complete."""
        if self._policy.mode == "line":
            return self._feed_line(text)
        self._append(text)
        if self._policy.mode == "manual":
            return []
        return self._drain(final=False)

    def flush(self) -> list[Segment]:
        """Cut everything pending now (the client sent flush/end)."""
        if self._policy.mode == "line":
            return []
        return self._drain(final=True)

    def _feed_line(self, text: str) -> list[Segment]:
        """One message is one unit; only a unit over the cap is split (by the auto rules)."""
        offset = self._received
        self._received += len(text)
        self._base = self._received
        lead = _skip_space(text, 0)
        stripped = text[lead:].rstrip()
        if not stripped:
            return []
        if len(stripped) <= self._policy.max_chars:
            segments = [Segment(stripped, offset + lead, offset + lead + len(stripped))]
        else:
            segments = split_text(text, self._policy, first=False, offset=offset)
        self._emitted += len(segments)
        return segments

    def _append(self, text: str) -> None:
        """Queue `text`, dropping it up front while nothing (but whitespace) is pending."""
        offset = self._received
        self._received += len(text)
        if self._start >= len(self._buf) and not self._parts:
            lead = _skip_space(text, 0)
            self._buf, self._start, self._scan = "", 0, 0
            self._base = offset + lead
            text = text[lead:]
        if text:
            self._parts.append(text)

    def _materialize(self) -> None:
        """Join queued parts onto the buffer, dropping the already-segmented prefix."""
        if self._start:
            self._buf = self._buf[self._start :]
            self._base += self._start
            self._scan = max(self._scan - self._start, 0)
            self._start = 0
        if self._parts:
            self._buf += "".join(self._parts)
            self._parts.clear()

    def _drain(self, *, final: bool) -> list[Segment]:
        """Emit every segment whose end is decidable now (all of them when `final`)."""
        self._materialize()
        buf, segments = self._buf, []
        while True:
            self._start = _skip_space(buf, self._start)
            if self._start >= len(buf):
                break
            self._scan = max(self._scan, self._start)
            first = self._emitted == 0
            cut, self._scan = find_cut(buf, self._start, self._scan, self._policy, first=first, final=final)
            if cut is None:
                break
            segments.append(_make_segment(buf, self._start, cut, self._base))
            self._emitted += 1
            self._start, self._scan = cut, cut  # a new segment is scanned from its own start
        self._materialize()
        return segments
