"""Text made safe to speak: what every engine receives instead of the client's raw text. Pure.

Clients send anything: 40-digit numbers, emoji, control characters, zero-width and bidi
marks, mathematical letters, several scripts in one line. Engines are third-party code
that may fail on such input (hibari's number reader fails on 37 digits and more), so
the backend passes every segment through `speakable` first:

- Unicode compatibility forms are folded (NFKC): fullwidth letters, ligatures,
  mathematical digits (`𝟙` -> `1`), but CJK fullwidth punctuation (`，`) is kept; digits
  of every script become ASCII digits.
- Format characters (zero-width, bidi marks, BOM), surrogates, private-use and unassigned
  code points are dropped; control characters (NUL...) and line or paragraph breaks other
  than `\n` become a space, merged with the spaces around them.
- A digit run of more than MAX_NUMBER_DIGITS digits (its thousands separators aside) is
  read digit by digit in groups (`1234 5678 ...` -> `1 2 3 4, 5 6 7 8, ...`): no one
  says a number that long, and readers of whole numbers fail on it.
- Emoji and pictographs (symbols with no reading) become a space the same way; letters of
  any script stay (a multilingual model reads them; the embedded engine spells what it
  cannot read). The client's own spacing is left alone, so ordinary text comes out as it
  went in (and word offsets into `segment.text` match the context's text).

It is idempotent (`speakable(speakable(t)) == speakable(t)`), so the text a client is
told was spoken (`segment.text`) can be passed through it again safely.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NUMBER_DIGITS = 15  # up to hundreds of trillions is read as a number
DIGIT_GROUP = 4  # longer runs are read digit by digit, in groups of this many

_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_SPACE_CATEGORIES = frozenset({"Zl", "Zp"})
_KEPT_CONTROLS = frozenset("\n\t")
# A number with optional thousands separators (1,234,567 or 1_234 or 1 234 is not joined).
_NUMBER = re.compile(r"\d+(?:[,_]\d{3})*")
_READABLE_SYMBOLS = frozenset("°©®")
# What a removed control, line break or emoji leaves: one space with the spaces around it
# (the client's own spacing is kept as it is, so ordinary text keeps its offsets).
_GAP = "\x00"
_GAPS = re.compile(r"[ \t]*\x00[\x00 \t]*")


def _is_pictograph(char: str) -> bool:
    """Emoji and other symbols that have no reading (So), and emoji modifiers and selectors."""
    category = unicodedata.category(char)
    if category == "So":
        return char not in _READABLE_SYMBOLS

    return category == "Sk" and 0x1F3FB <= ord(char) <= 0x1F3FF  # skin tones


def _clean_char(char: str) -> str:
    if char in _KEPT_CONTROLS or char == " ":
        return char
    category = unicodedata.category(char)
    if category == "Cc" or category in _SPACE_CATEGORIES or _is_pictograph(char):
        return _GAP
    if category in _DROPPED_CATEGORIES:
        return ""
    if category == "Zs":
        return " "  # one for one: no-break, thin and ideographic spaces
    if category == "Nd":
        return str(unicodedata.digit(char, 0))
    return char


def _read_long_number(match: re.Match[str]) -> str:
    digits = re.sub(r"[,_]", "", match.group(0))
    if len(digits) <= MAX_NUMBER_DIGITS:
        return match.group(0)
    groups = [digits[i : i + DIGIT_GROUP] for i in range(0, len(digits), DIGIT_GROUP)]
    return ", ".join(" ".join(group) for group in groups)


def _fold(text: str) -> str:
    """Compatibility forms folded (NFKC) character by character, except CJK's fullwidth punctuation
    (`，`, `！`, `（`...), which carries meaning for a CJK reader; then composed (NFC)."""
    folded = "".join(char if _keeps_width(char) else unicodedata.normalize("NFKC", char) for char in text)
    return unicodedata.normalize("NFC", folded)


def _keeps_width(char: str) -> bool:
    return 0xFF01 <= ord(char) <= 0xFF5E and not char.isalnum()


def speakable(text: str) -> str:
    """`text` as every engine may safely read it (see the module's description); "" when nothing is left to say."""
    cleaned = "".join(_clean_char(char) for char in _fold(text))
    # Again: dropping a character can join two that compose (the result must be a fixed point).
    cleaned = "".join(_clean_char(char) for char in _fold(cleaned))
    spoken = _NUMBER.sub(_read_long_number, cleaned)
    spoken = _GAPS.sub(" ", spoken).strip()
    return spoken
