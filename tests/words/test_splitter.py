"""The word splitter: offsets into the segment's text, CJK, numbers and punctuation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from realtime.words.splitter import is_spoken, split_words, spoken_core


def texts(text: str) -> list[str]:
    return [word.text for word in split_words(text)]


def test_words_carry_their_punctuation() -> None:
    assert texts('He said: "Hello, there!" (twice) — then left...') == [
        "He", "said:", '"Hello,', 'there!"', "(twice)", "then", "left...",
    ]


def test_numbers_contractions_and_joined_words_stay_one_word() -> None:
    assert texts("It's 3.5% of 1,000 e-mails, on 2024-05-01 at 10:30.") == [
        "It's", "3.5%", "of", "1,000", "e-mails,", "on", "2024-05-01", "at", "10:30.",
    ]


def test_a_read_symbol_alone_is_a_word_a_dash_is_not() -> None:
    assert texts("rock & roll — 5 + 5") == ["rock", "&", "roll", "5", "+", "5"]


def test_cjk_is_one_word_per_character_with_its_punctuation() -> None:
    assert texts("你好，世界。") == ["你", "好，", "世", "界。"]
    assert texts("こんにちは。") == ["こ", "ん", "に", "ち", "は。"]


def test_latin_and_digits_inside_cjk_are_one_word_each() -> None:
    assert texts("我用Python写了2024年的代码！") == ["我", "用", "Python", "写", "了", "2024", "年", "的", "代", "码！"]


def test_spaced_scripts_split_at_spaces() -> None:
    assert texts("안녕하세요 여러분. Привет, мир!") == ["안녕하세요", "여러분.", "Привет,", "мир!"]


def test_offsets_are_exact_on_a_known_line() -> None:
    text = "  Hi,  you!\n"
    words = split_words(text)
    assert [(w.char_start, w.char_end) for w in words] == [(2, 5), (7, 11)]


def test_nothing_to_say_gives_no_words() -> None:
    assert split_words("") == []
    assert split_words("  ... — !! \n") == []


def test_spoken_core_strips_surrounding_punctuation_only() -> None:
    assert spoken_core('("Smith\'s,")') == "Smith's"
    assert spoken_core("...") == ""


_ALPHABET = st.sampled_from(list("ab Zé9 ,.!?'\"-—()\n\t&%你好。、こカ한1") + ["\u3000", "\u200b"])


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.lists(_ALPHABET, max_size=60).map("".join))
def test_words_tile_the_text_in_order_and_cover_every_spoken_character(text: str) -> None:
    words = split_words(text)
    previous_end = 0
    for word in words:
        assert text[word.char_start : word.char_end] == word.text
        assert previous_end <= word.char_start < word.char_end
        assert not any(char.isspace() for char in word.text)
        assert any(is_spoken(char) or char in "&%+=@$€£#" for char in word.text)
        previous_end = word.char_end
    covered = {index for word in words for index in range(word.char_start, word.char_end)}
    assert all(index in covered for index, char in enumerate(text) if is_spoken(char))
