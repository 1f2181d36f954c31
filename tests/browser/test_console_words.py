"""The console highlights the word being played, from the server's `words` messages, on the audio clock."""

from __future__ import annotations

import pytest

LINE = "Good morning, everyone. The train to 42nd Street leaves at noon."


def test_the_word_playing_is_highlighted_in_its_caption(server, open_console) -> None:
    console = open_console(server)
    console.connect(selects={"timestamps": "word"}, fields={"seed": "7"})
    console.wait("c.state === 'ready'")
    assert console.hook("c.ready.timestamps") == "word"
    console.say(LINE)
    console.wait("c.currentWord !== null")
    playing = console.hook("c.currentWord")
    assert playing["text"] in LINE.split()
    console.page.wait_for_selector(".caption .word.playing", timeout=30_000)
    console.screenshot("console-word-playing.png")
    console.page.click("#end")
    console.wait("c.done.length === 1")
    console.wait("c.captions.length > 0 && c.captions.every(x => x.state === 'played' && x.words.length > 0)")
    console.wait("c.captions.every(x => x.words.every(w => w.state === 'played'))")

    captions = console.hook("c.captions")
    assert " ".join(w["text"] for c in captions for w in c["words"]) == LINE
    for caption in captions:
        assert caption["source"] == "pocketsphinx"
        spans = console.page.locator(f".caption[data-segment='{caption['segment']}'] .word")
        assert spans.all_text_contents() == [w["text"] for w in caption["words"]]
        for word in caption["words"]:
            # Placed on the audio clock inside the caption's own audio.
            assert caption["start"] - 1e-6 <= word["start"] <= word["end"] <= caption["end"] + 1e-6
    words = [w for c in captions for w in c["words"]]
    # Each word was highlighted while it played (a word shorter than a frame may be skipped).
    assert sum(w["highlighted"] for w in words) >= 0.8 * len(words)
    assert console.page.locator(".caption .word.playing").count() == 0


def test_no_word_spans_without_timestamps(server, open_console) -> None:
    console = open_console(server)
    console.connect(selects={"timestamps": "none"})
    console.wait("c.state === 'ready'")
    console.say("Just the caption, please.")
    console.page.click("#end")
    console.wait("c.done.length === 1")
    counts = console.hook("c.captions.map(x => x.words.length)")
    assert counts and set(counts) == {0}
    assert console.page.locator(".caption .word").count() == 0


@pytest.mark.parametrize("text", ["Ünïcödé 𝄞 music, café."])
def test_offsets_count_code_points_as_the_server_does(server, open_console, text: str) -> None:
    """Characters outside the BMP are two JavaScript units but one server offset: the spans must still match."""
    console = open_console(server)
    console.connect(selects={"timestamps": "word"})
    console.wait("c.state === 'ready'")
    console.say(text)
    console.page.click("#end")
    console.wait("c.done.length === 1 && c.captions.every(x => x.words.length > 0)")
    captions = console.hook("c.captions")
    spans = console.page.locator(".caption .word").all_text_contents()
    assert spans == [w["text"] for c in captions for w in c["words"]] == ["Ünïcödé", "music,", "café."]
    assert console.page.locator(".caption").all_text_contents() == [c["text"] for c in captions]
