"""A segment's text cut into the words a listener hears, with their character offsets. Pure.

A word is a whitespace-delimited token with its punctuation attached (`"Hello,"`,
`"(yes)"`), so a caption highlights what the reader sees and `text[:char_end]` of the
last heard word is a clean prefix. CJK text has no spaces: each ideograph or kana is a
word of its own (its trailing punctuation attached), and a run of Latin letters or
digits inside it (`2024年`, `用Python`) is one word. Tokens with nothing to say
(a lone `—` or `...`) are not words; a lone symbol that is read (`&`, `%`) is.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Final

# Characters inside a run of letters or digits that keep it one word: "don't", "3.5", "e-mail", "1,000".
_JOINERS: Final = frozenset("'’.-,_:/")
# Symbols that are read aloud when they stand alone ("rock & roll", "+ 5").
_READ_SYMBOLS: Final = frozenset("&%+=@$€£#")


@dataclass(frozen=True, slots=True)
class WordSpan:
    """One word: `text` is exactly `segment_text[char_start:char_end]`."""

    text: str
    char_start: int
    char_end: int


def is_cjk(char: str) -> bool:
    """Ideographs, kana and CJK compatibility forms: scripts written without spaces between words."""
    code = ord(char)
    return (
        0x3040 <= code <= 0x30FF  # hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # CJK extension A
        or 0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0x31F0 <= code <= 0x31FF  # katakana phonetic extensions
        or 0xFF66 <= code <= 0xFF9D  # half-width katakana
        or 0x20000 <= code <= 0x2FA1F  # extensions B..F, compatibility supplement
    )


def is_spoken(char: str) -> bool:
    """A character that is said: a letter, a digit or a CJK character (marks count with their letter)."""
    category = unicodedata.category(char)
    return category[0] in ("L", "N", "M")


def _pieces(token: str) -> list[tuple[int, int]]:
    """Spoken pieces of one token as (start, end) offsets, punctuation not yet attached."""
    pieces: list[tuple[int, int]] = []
    index = 0
    length = len(token)
    while index < length:
        char = token[index]
        if is_cjk(char):
            pieces.append((index, index + 1))
            index += 1
        elif is_spoken(char):
            start = index
            index += 1
            while index < length:
                here = token[index]
                if is_spoken(here) and not is_cjk(here):
                    index += 1
                elif (
                    here in _JOINERS
                    and index + 1 < length
                    and is_spoken(token[index + 1])
                    and not is_cjk(token[index + 1])
                ):
                    index += 2
                else:
                    break
            pieces.append((start, index))
        else:
            index += 1
    return pieces


def _token_words(token: str, offset: int) -> list[WordSpan]:
    """The words of one whitespace-free token; punctuation goes to the piece before it (leading: after)."""
    pieces = _pieces(token)
    if not pieces:
        said = any(char in _READ_SYMBOLS for char in token)
        return [WordSpan(token, offset, offset + len(token))] if said else []
    bounds = [[start, end] for start, end in pieces]
    bounds[0][0] = 0  # leading punctuation (an opening quote or bracket) belongs to the first word
    for current, following in zip(bounds, bounds[1:]):
        current[1] = following[0]  # what lies between two pieces belongs to the earlier one
    bounds[-1][1] = len(token)
    return [WordSpan(token[start:end], offset + start, offset + end) for start, end in bounds]


def split_words(text: str) -> list[WordSpan]:
    """Every word of `text` in order, none overlapping, each `text[char_start:char_end]`."""
    words: list[WordSpan] = []
    index = 0
    length = len(text)
    while index < length:
        if text[index].isspace():
            index += 1
            continue
        start = index
        while index < length and not text[index].isspace():
            index += 1
        words.extend(_token_words(text[start:index], start))
    return words


def spoken_core(word: str) -> str:
    """The word without the punctuation around it: `"(Hello,"` -> `Hello`."""
    start, end = 0, len(word)
    while start < end and not is_spoken(word[start]):
        start += 1
    while end > start and not is_spoken(word[end - 1]):
        end -= 1
    return word[start:end]
