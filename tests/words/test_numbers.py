"""Numbers as read aloud, so the English aligner can find them in the audio."""

from __future__ import annotations

import pytest

from realtime.words.numbers import integer_words, number_words


@pytest.mark.parametrize(
    ("token", "said"),
    [
        ("7", "seven"),
        ("42", "forty two"),
        ("100", "one hundred"),
        ("1,000", "one thousand"),
        ("123456", "one hundred twenty three thousand four hundred fifty six"),
        ("1984", "nineteen eighty four"),
        ("1905", "nineteen oh five"),
        ("2005", "two thousand five"),
        ("1990s", "nineteen nineties"),
        ("3.25", "three point two five"),
        ("21st", "twenty first"),
        ("3rd", "third"),
        ("40th", "fortieth"),
    ],
)
def test_numbers_are_spelled_as_read(token: str, said: str) -> None:
    assert number_words(token) == said.split()


def test_words_that_are_no_numbers_are_left_alone() -> None:
    assert number_words("hello") is None
    assert number_words("4x4") is None


def test_integer_words_reach_the_trillions() -> None:
    assert integer_words(2 * 10**12 + 5) == ["two", "trillion", "five"]
