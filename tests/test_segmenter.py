"""Tests for realtime.segmenter: the cut rules, and that auto mode depends on the text alone."""

from __future__ import annotations

import random

import pytest

from realtime.segmenter import Segment, Segmenter, SegmenterPolicy, split_text

SMALL = SegmenterPolicy(max_chars=40, first_min_chars=5, first_max_chars=30)
TINY = SegmenterPolicy(max_chars=8, first_min_chars=2, first_max_chars=6)


def seg(text: str, start: int) -> Segment:
    return Segment(text, start, start + len(text))


def run(pieces: list[str], policy: SegmenterPolicy = SegmenterPolicy()) -> list[Segment]:
    """Feed every piece, then flush; all segments in order."""
    s = Segmenter(policy)
    out: list[Segment] = []
    for piece in pieces:
        out += s.feed(piece)
    return out + s.flush()


def texts_of(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments]


# --- newline -----------------------------------------------------------------------------


def test_newline_cuts_immediately_without_lookahead() -> None:
    s = Segmenter()
    assert s.feed("Hello\nWor") == [seg("Hello", 0)]
    assert s.pending_chars == 3
    assert s.flush() == [seg("Wor", 6)]


def test_newline_cut_then_flush_returns_rest() -> None:
    s = Segmenter()
    assert s.feed("Hello\nWorld") == [seg("Hello", 0)]
    assert s.flush() == [seg("World", 6)]
    assert s.pending_chars == 0
    assert s.segments_emitted == 2


def test_carriage_return_is_stripped() -> None:
    assert run(["Hi there\r\nNext line\r\n"]) == [seg("Hi there", 0), seg("Next line", 10)]


def test_blank_lines_produce_no_segments_but_offsets_advance() -> None:
    assert run(["a\n\n\n  \nb\n"]) == [seg("a", 0), seg("b", 7)]


# --- Latin sentence ends -----------------------------------------------------------------


def test_sentence_end_waits_for_following_whitespace() -> None:
    s = Segmenter()
    assert s.feed("Hello.") == []
    assert s.pending_chars == 6
    assert s.feed(" ") == [seg("Hello.", 0)]
    assert s.pending_chars == 0


def test_sentence_end_at_flush_needs_no_whitespace() -> None:
    s = Segmenter()
    assert s.feed("Hello.") == []
    assert s.flush() == [seg("Hello.", 0)]


def test_sentence_end_takes_punctuation_run_and_closers() -> None:
    text = 'He asked "why?!" Then left... (Fine.) Bye'
    assert run([text]) == [
        seg('He asked "why?!"', 0),
        seg("Then left...", 17),
        seg("(Fine.)", 30),
        seg("Bye", 38),
    ]


def test_sentence_end_waits_for_possible_closer() -> None:
    s = Segmenter()
    assert s.feed('She said "go.') == []
    assert s.feed('"') == []
    assert s.feed(" Now") == [seg('She said "go."', 0)]


def test_ellipsis_character_ends_sentence() -> None:
    assert texts_of(run(["Wait… what? "])) == ["Wait…", "what?"]


def test_abbreviation_does_not_end_sentence() -> None:
    text = "Mr. Smith met Dr. Jones at St. Paul's. Then (Prof. X) left, e.g. today. Done"
    assert texts_of(run([text])) == [
        "Mr. Smith met Dr. Jones at St. Paul's.",
        "Then (Prof. X) left, e.g. today.",
        "Done",
    ]


def test_abbreviation_match_is_case_insensitive() -> None:
    assert texts_of(run(["MRS. Brown and ETC. stuff. End"])) == ["MRS. Brown and ETC. stuff.", "End"]


def test_initials_do_not_end_sentence() -> None:
    assert texts_of(run(["J. K. Rowling lives in the U.S. and U. K. today. Yes"])) == [
        "J. K. Rowling lives in the U.S. and U. K. today.",
        "Yes",
    ]


def test_abbreviation_guard_only_applies_to_single_period() -> None:
    assert texts_of(run(["I like apples etc... Then more"])) == ["I like apples etc...", "Then more"]


def test_decimal_and_dotted_words_never_cut() -> None:
    text = "Pi is 3.14 today. See example.com now. v1.2 works. "
    assert run([text]) == [seg("Pi is 3.14 today.", 0), seg("See example.com now.", 18), seg("v1.2 works.", 39)]


def test_decimal_split_across_pieces_does_not_cut() -> None:
    s = Segmenter()
    assert s.feed("It costs 3.") == []
    assert s.feed("14 apples. ") == [seg("It costs 3.14 apples.", 0)]


def test_sentence_end_followed_by_newline() -> None:
    assert run(["One.\nTwo."]) == [seg("One.", 0), seg("Two.", 5)]


# --- CJK sentence ends -------------------------------------------------------------------


def test_cjk_sentence_end_needs_no_space_and_keeps_closers() -> None:
    s = Segmenter()
    assert s.feed("他说：「你好。」我们走吧！") == [seg("他说：「你好。」", 0)]
    assert s.pending_chars == 5
    assert s.flush() == [seg("我们走吧！", 8)]


def test_cjk_sentence_end_waits_for_char_after_closers() -> None:
    s = Segmenter()
    assert s.feed("你好。") == []
    assert s.feed("」") == []
    assert s.feed("我") == [seg("你好。」", 0)]
    assert s.flush() == [seg("我", 4)]


def test_cjk_punctuation_run_is_one_cut() -> None:
    assert texts_of(run(["真的吗？！是的；好。。。走"])) == ["真的吗？！", "是的；", "好。。。", "走"]


def test_fullwidth_exclamation_and_question() -> None:
    assert run(["好！对？"]) == [seg("好！", 0), seg("对？", 2)]


# --- short first segment -----------------------------------------------------------------


def test_first_segment_cuts_at_clause_break() -> None:
    text = "Well, hello there, my friend, how are you today? Fine, thanks. "
    assert run([text]) == [
        seg("Well, hello there,", 0),  # "Well," is under first_min_chars
        seg("my friend, how are you today?", 19),  # not the first segment: commas don't cut
        seg("Fine, thanks.", 49),
    ]


def test_first_clause_break_beyond_first_max_chars_waits_for_sentence_end() -> None:
    policy = SegmenterPolicy(first_min_chars=5, first_max_chars=20)
    text = "This is a fairly long opening clause, then more. Next"
    assert texts_of(run([text], policy)) == ["This is a fairly long opening clause, then more.", "Next"]


def test_first_clause_break_counts_from_first_non_whitespace() -> None:
    policy = SegmenterPolicy(first_min_chars=6, first_max_chars=6)
    assert run(["   Hello, world"], policy) == [seg("Hello,", 3), seg("world", 10)]


def test_first_clause_break_needs_whitespace_after_latin_break() -> None:
    assert texts_of(run(["Numbers like 1,000,000 are big. Ok"])) == ["Numbers like 1,000,000 are big.", "Ok"]


def test_first_clause_break_waits_for_whitespace_lookahead() -> None:
    s = Segmenter()
    assert s.feed("Hello there everyone,") == []
    assert s.feed(" hi") == [seg("Hello there everyone,", 0)]


def test_em_dash_semicolon_colon_are_clause_breaks() -> None:
    assert texts_of(run(["The answer is clear — we go now. "])) == ["The answer is clear —", "we go now."]
    assert texts_of(run(["Here is the list: one, two. "])) == ["Here is the list:", "one, two."]
    assert texts_of(run(["It was raining; we stayed. "])) == ["It was raining;", "we stayed."]


def test_cjk_clause_break_needs_no_whitespace() -> None:
    policy = SegmenterPolicy(first_min_chars=5)
    assert run(["今天天气很好，我们去公园散步，好吗"], policy) == [seg("今天天气很好，", 0), seg("我们去公园散步，好吗", 7)]


def test_cjk_clause_break_under_first_min_chars_does_not_cut() -> None:
    assert texts_of(run(["今天天气很好，我们去公园散步吧。"])) == ["今天天气很好，我们去公园散步吧。"]


# --- cap -----------------------------------------------------------------------------------


def test_cap_cuts_at_last_whitespace_in_window() -> None:
    policy = SegmenterPolicy(max_chars=20)
    s = Segmenter(policy)
    assert s.feed("aaaa bbbb cccc dddd eeee ffff") == [seg("aaaa bbbb cccc dddd", 0)]
    assert s.flush() == [seg("eeee ffff", 20)]


def test_cap_keeps_whole_word_when_whitespace_follows_window() -> None:
    policy = SegmenterPolicy(max_chars=20)
    assert run(["aaaa bbbb cccc ddddd eeee"], policy) == [seg("aaaa bbbb cccc ddddd", 0), seg("eeee", 21)]


def test_cap_falls_back_to_clause_break_then_hard_cut() -> None:
    policy = SegmenterPolicy(max_chars=10)
    assert run(["abc,defghijklmno"], policy) == [seg("abc,", 0), seg("defghijklm", 4), seg("no", 14)]


def test_cap_hard_cuts_unbroken_text() -> None:
    policy = SegmenterPolicy(max_chars=10)
    assert run(["x" * 25], policy) == [seg("x" * 10, 0), seg("x" * 10, 10), seg("x" * 5, 20)]


def test_cap_waits_for_char_after_window() -> None:
    policy = SegmenterPolicy(max_chars=20)
    s = Segmenter(policy)
    assert s.feed("a" * 20) == []
    assert s.feed("b") == [seg("a" * 20, 0)]
    assert s.flush() == [seg("b", 20)]


def test_natural_cut_wins_over_cap() -> None:
    policy = SegmenterPolicy(max_chars=20)
    assert texts_of(run(["Hi there. aaaa bbbb cccc dddd"], policy)) == ["Hi there.", "aaaa bbbb cccc dddd"]


def test_natural_cut_at_window_edge_wins_over_cap() -> None:
    policy = SegmenterPolicy(max_chars=10)
    s = Segmenter(policy)
    assert s.feed("abcdefghi.") == []
    assert s.feed(" rest of it") == [seg("abcdefghi.", 0)]


def test_cap_counts_from_first_non_whitespace_char() -> None:
    policy = SegmenterPolicy(max_chars=5)
    assert run(["      abcde fg"], policy) == [seg("abcde", 6), seg("fg", 12)]


# --- pieces, whitespace, counters ----------------------------------------------------------


def test_whitespace_only_pieces_are_dropped_but_offsets_advance() -> None:
    assert run(["Hi.", "   ", "\n\n", "  There."]) == [seg("Hi.", 0), seg("There.", 10)]


def test_flush_on_empty_or_whitespace_returns_nothing() -> None:
    s = Segmenter()
    assert s.flush() == []
    assert s.feed("   \n ") == []
    assert s.pending_chars == 0
    assert s.flush() == []
    assert s.feed("x") == []
    assert s.flush() == [seg("x", 5)]


def test_segmenter_continues_after_flush() -> None:
    s = Segmenter()
    assert s.feed("Hello there, friend") == [seg("Hello there,", 0)]
    assert s.flush() == [seg("friend", 13)]
    assert s.feed("More, and more. ") == [seg("More, and more.", 19)]  # not first: comma doesn't cut
    assert s.segments_emitted == 3


def test_pending_chars_counts_unsegmented_text() -> None:
    s = Segmenter()
    s.feed("  Hello")
    assert s.pending_chars == 5
    s.feed(" world. And")
    assert s.pending_chars == 3
    s.flush()
    assert s.pending_chars == 0


def test_policy_rejects_bad_values() -> None:
    with pytest.raises(ValueError):
        SegmenterPolicy(max_chars=0)
    with pytest.raises(ValueError):
        SegmenterPolicy(mode="words")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SegmenterPolicy(first_min_chars=-1)


# --- line mode ------------------------------------------------------------------------------


def test_line_mode_each_feed_is_one_segment() -> None:
    s = Segmenter(SegmenterPolicy(mode="line"))
    assert s.feed("Hello. World, again.") == [seg("Hello. World, again.", 0)]
    assert s.pending_chars == 0
    assert s.feed("   ") == []
    assert s.feed(" second\nline ") == [seg("second\nline", 24)]
    assert s.flush() == []
    assert s.segments_emitted == 2


def test_line_mode_splits_unit_over_cap_by_auto_rules() -> None:
    s = Segmenter(SegmenterPolicy(mode="line", max_chars=30))
    assert s.feed("ab") == [seg("ab", 0)]
    # No short-first clause cut inside a unit; sentence ends and the cap apply.
    assert s.feed("Well hello there, my friend. And this is more text here.") == [
        seg("Well hello there, my friend.", 2),
        seg("And this is more text here.", 31),
    ]
    assert s.feed(" " + "y" * 35) == [seg("y" * 30, 59), seg("y" * 5, 89)]


# --- manual mode ----------------------------------------------------------------------------


def test_manual_mode_only_flush_emits() -> None:
    s = Segmenter(SegmenterPolicy(mode="manual"))
    assert s.feed("Well, hello there, my friend. ") == []
    assert s.feed("How are you?\nFine") == []
    assert s.pending_chars == 47
    assert s.flush() == [
        seg("Well, hello there,", 0),
        seg("my friend.", 19),
        seg("How are you?", 30),
        seg("Fine", 43),
    ]
    assert s.feed("Again, and again, and again.") == []
    assert s.flush() == [seg("Again, and again, and again.", 47)]  # not the first segment any more


def test_manual_mode_flush_applies_cap() -> None:
    s = Segmenter(SegmenterPolicy(mode="manual", max_chars=10))
    for ch in "aaaa bbbb cccc dddd":
        assert s.feed(ch) == []
    assert s.flush() == [seg("aaaa bbbb", 0), seg("cccc dddd", 10)]


# --- the invariant: segments depend on the text alone ---------------------------------------

VARIED_TEXTS = [
    'Mr. and Mrs. Smith paid $3.50, e.g. for tea. "Really?!" she asked... Dr. J. K. Lee '
    "visited example.com at 10:30 a.m. on Jan. 5th (approx. 3.14 hours). Wait… what?' Then "
    "U.S. Inc. left; co. said no. The end.",
    "他说：「你好。」我们走吧！今天天气很好，我们去公园散步、跑步，好吗？『当然。』（是的！）"
    "真的吗？！好。。。走",
    'Mixed text: 你好。Hello there! 「Quoted。」 and "English." 然后，我们走。 Okay… fine?  end',
    "word " * 130 + "x" * 300 + "," + "y" * 20 + " tail",
    "line one\nline two\r\n\n\n  \nline, three. four\n\n" + "short\n" * 20 + "\nlast",
    '  Leading spaces, then "quotes." (brackets.) [more!] «guillemets.» and 1.2.3. v2. No. 7 '
    "fig. 3 shows... it. \t Tabs\tand  double  spaces.   ",
    "A. B. C. d, e; f: g — h. i! j? " * 6,
]
POLICIES = [SegmenterPolicy(), SMALL, TINY]


def check_well_formed(text: str, segments: list[Segment], policy: SegmenterPolicy) -> None:
    end = 0
    for s in segments:
        assert end <= s.char_start < s.char_end <= len(text)
        assert text[s.char_start : s.char_end] == s.text
        assert s.text.strip() == s.text and s.text
        assert len(s.text) <= policy.max_chars
        end = s.char_end
    # Nothing but whitespace is lost.
    assert "".join("".join(s.text.split()) for s in segments) == "".join(text.split())


@pytest.mark.parametrize("policy", POLICIES, ids=["default", "small", "tiny"])
@pytest.mark.parametrize("index", range(len(VARIED_TEXTS)))
def test_segments_depend_on_text_alone(index: int, policy: SegmenterPolicy) -> None:
    text = VARIED_TEXTS[index]
    expected = run([text], policy)
    check_well_formed(text, expected, policy)
    assert expected == split_text(text, policy, first=True)
    for i in range(len(text) + 1):
        assert run([text[:i], text[i:]], policy) == expected, f"split at {i}"
    assert run(list(text), policy) == expected
    rng = random.Random(index * 1000 + policy.max_chars)
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, len(text)), rng.randint(1, min(40, len(text) - 1))))
        pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
        assert run(pieces, policy) == expected, f"pieces {pieces!r}"


def test_random_texts_depend_on_text_alone() -> None:
    rng = random.Random(7)
    alphabet = list("abc xyz.,;:!?…\"')]」。！，、\n\r\t—13") + ["Mr", "e.g", "3.14", "U.S"]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120)))
        for policy in POLICIES:
            expected = run([text], policy)
            check_well_formed(text, expected, policy)
            cuts = sorted(rng.sample(range(len(text) + 1), rng.randint(0, min(10, len(text)))))
            pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)])]
            assert run(pieces, policy) == expected, f"{text!r} {pieces!r}"


# --- scale ----------------------------------------------------------------------------------


def test_large_input_at_once_and_char_by_char() -> None:
    rng = random.Random(1)
    words = ["alpha", "beta", "Dr.", "3.14", "gamma,", "delta.", "eps!", "“quote.”", "你好。", "\n"]
    text = "".join(rng.choice(words) + " " for _ in range(20000))[:65536]
    unpunctuated = ("lorem ipsum dolor sit amet " * 3000)[:65536]
    for big in (text, unpunctuated, "x" * 65536):
        assert len(big) == 65536
        expected = run([big])
        check_well_formed(big, expected, SegmenterPolicy())
        assert run(list(big)) == expected
