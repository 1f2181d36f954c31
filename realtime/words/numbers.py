"""Numbers and symbols as the words a reader says, for an aligner that only knows words. Pure."""

from __future__ import annotations

import re
from typing import Final

_ONES: Final = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"
).split()
_TENS: Final = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES: Final = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_SYMBOLS: Final = {"&": "and", "%": "percent", "+": "plus", "=": "equals", "@": "at", "$": "dollars", "€": "euros", "£": "pounds"}
_ORDINAL: Final = re.compile(r"^(\d+)(st|nd|rd|th)$", re.I)
_ORDINALS: Final = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
                    "nine": "ninth", "twelve": "twelfth"}


def integer_words(value: int) -> list[str]:
    """`1042` -> `one thousand forty two` (as an English reader says it; hyphens split)."""
    if value < 20:
        return [_ONES[value]]
    if value < 100:
        tens, ones = divmod(value, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return [_ONES[hundreds], "hundred"] + (integer_words(rest) if rest else [])
    for scale, name in _SCALES:
        if value >= scale:
            high, rest = divmod(value, scale)
            return integer_words(high) + [name] + (integer_words(rest) if rest else [])
    return [str(value)]  # pragma: no cover - every value >= 1000 meets a scale


def number_words(token: str) -> list[str] | None:
    """Words for a numeric token (`42`, `1,000`, `3.5`, `21st`, `1990s`), or None when it is no number."""
    ordinal = _ORDINAL.match(token)
    if ordinal:
        words = integer_words(int(ordinal.group(1)))
        last = words[-1]
        words[-1] = _ORDINALS.get(last, last[:-1] + "ieth" if last.endswith("y") else last + "th")
        return words
    plural = token.endswith("s") and token[:-1].isdigit()
    digits = token[:-1] if plural else token
    if re.fullmatch(r"\d{1,3}(,\d{3})+|\d+", digits):
        value = int(digits.replace(",", ""))
        if len(digits) == 4 and (1100 <= value <= 1999 or 2010 <= value <= 2099) and value % 100:
            words = integer_words(value // 100) + (["oh"] if value % 100 < 10 else []) + integer_words(value % 100)
            if plural:
                words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
            return words
        if value >= 10**15:
            return [_ONES[int(d)] for d in digits if d.isdigit()]
        words = integer_words(value)
        if plural:
            words[-1] = words[-1][:-1] + "ies" if words[-1].endswith("y") else words[-1] + "s"
        return words
    if re.fullmatch(r"\d+\.\d+", token):
        whole, fraction = token.split(".")
        return (number_words(whole) or []) + ["point"] + [_ONES[int(d)] for d in fraction]
    return None


def symbol_word(char: str) -> str | None:
    return _SYMBOLS.get(char)


# Abbreviations a reader expands (lower case, without their period).
ABBREVIATIONS: Final = {
    "dr": ["doctor"], "mr": ["mister"], "mrs": ["missus"], "ms": ["miz"], "st": ["saint"], "vs": ["versus"],
    "etc": ["et", "cetera"], "jr": ["junior"], "sr": ["senior"], "prof": ["professor"],
}
