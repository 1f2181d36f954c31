"""The normalizer in front of every engine: pure rules, idempotence, and no text that fails hibari."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from realtime.engines.base import CancelFlag, VoiceRequest
from realtime.engines.hibari_engine import HibariEngine
from realtime.protocol.messages import VoiceSpec
from realtime.text.normalize import MAX_NUMBER_DIGITS, speakable
from tests.support.fuzz import fuzz_settings


@pytest.mark.parametrize("digits", [37, 38, 40, 64, 400])
def test_a_long_digit_run_is_read_digit_by_digit_in_groups(digits: int) -> None:
    spoken = speakable("I have " + "9" * digits + " apples.")
    assert spoken.startswith("I have 9 9 9 9, 9 9 9 9") and spoken.endswith(" apples.")
    assert spoken.count("9") == digits


def test_a_number_short_enough_to_say_is_left_alone() -> None:
    assert speakable("Pay 123,456,789 or " + "1" * MAX_NUMBER_DIGITS + " now.") == (
        "Pay 123,456,789 or " + "1" * MAX_NUMBER_DIGITS + " now."
    )
    grouped = "1,234,567,890,123,456,789,012,345,678,901"  # 31 digits with separators: spelled out
    assert "," not in speakable(grouped).replace(", ", "")


def test_digits_of_other_scripts_and_compatibility_forms_are_folded() -> None:
    assert speakable("\u0661\u0662\u0663 \U0001d7d9\U0001d7da \uff21\uff22 \ufb01ne") == "123 12 AB fine"


def test_cjk_fullwidth_punctuation_is_kept() -> None:
    assert speakable("\u4f60\u597d\uff0c\u4e16\u754c\uff01\uff08\u55ef\uff09") == "\u4f60\u597d\uff0c\u4e16\u754c\uff01\uff08\u55ef\uff09"


def test_controls_format_marks_and_emoji_are_dropped_and_letters_of_every_script_kept() -> None:
    assert speakable("\x00Hi\u200b there\ufeff \U0001f642\U0001f44d\U0001f3fd!") == "Hi there !"
    assert speakable("\u202eHello\u202c \u05e9\u05dc\u05d5\u05dd \u4f60\u597d\u3002 \u041f\u0440\u0438") == (
        "Hello \u05e9\u05dc\u05d5\u05dd \u4f60\u597d\u3002 \u041f\u0440\u0438"
    )
    assert speakable("25\u00b0 and \ue000\U0010fffd") == "25\u00b0 and"


def test_ordinary_text_comes_out_as_it_went_in() -> None:
    for text in ("How  are you?", "Well,\tthen.\nYes: 42 (or 43) at 5.50 $ - 100% sure & more.", "\u4f60\u597d\u3002"):
        assert speakable(text) == text


def test_nothing_left_to_say_is_empty() -> None:
    assert speakable("\U0001f642 \u200d\u200d \x07") == ""


@fuzz_settings(max_examples=300)
@given(text=st.text(max_size=200))
def test_normalizing_is_idempotent_and_leaves_no_unspeakable_characters(text: str) -> None:
    spoken = speakable(text)
    assert speakable(spoken) == spoken
    assert not any(0xD800 <= ord(c) <= 0xDFFF or (ord(c) < 0x20 and c not in "\n\t") for c in spoken)


@pytest.fixture(scope="module")
def hibari() -> HibariEngine:
    engine = HibariEngine(threads=1)
    engine.load()
    return engine


def _speak(engine: HibariEngine, text: str) -> np.ndarray:
    voice = engine.open_voice(VoiceRequest(spec=VoiceSpec(), model="hibari", seed=1))
    chunks = list(voice.synthesize(speakable(text), CancelFlag()))
    assert chunks and chunks[-1].final
    return np.concatenate([c.samples for c in chunks])


def test_the_digit_runs_that_broke_hibari_are_spoken(hibari: HibariEngine) -> None:
    for digits in (37, 40, 100):
        assert len(_speak(hibari, "Call " + "7" * digits + " now.")) > 24000


@fuzz_settings(max_examples=60)
@given(text=st.text(max_size=120) | st.from_regex(r"[0-9,._ ]{30,80}", fullmatch=True))
def test_no_text_fails_hibari_once_normalized(hibari: HibariEngine, text: str) -> None:
    _speak(hibari, text)  # raises GenerationError on a text hibari cannot take
