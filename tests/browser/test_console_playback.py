"""The console plays what the server streams: every chunk right after the previous one, captions in step."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tests.browser.console import ConsolePage

WAV_HEADER_BYTES = 44

SCHEDULE = (
    "c.scheduled.map(({ctx, seq, segment, start, duration, startFrame, frames, sampleRate, timestamp_ms, underrun})"
    " => ({ctx, seq, segment, start, duration, startFrame, frames, sampleRate, timestamp_ms, underrun}))"
)


def speak_and_finish(console: ConsolePage, line: str) -> None:
    """Say one line, end its stream, wait for `done` and for every caption to have played."""
    console.say(line)
    console.page.click("#end")
    console.wait("c.done.length === 1")
    console.wait("c.captions.length > 0 && c.captions.every(x => x.state === 'played')")


def assert_back_to_back(schedule: list[dict[str, Any]]) -> None:
    """Chunks in seq order, each starting on the sample where the previous ended, at the server's timestamp."""
    assert schedule, "nothing was scheduled"
    assert [entry["seq"] for entry in schedule] == list(range(len(schedule)))
    rate = schedule[0]["sampleRate"]
    first = schedule[0]
    for before, after in itertools.pairwise(schedule):
        assert after["startFrame"] == before["startFrame"] + before["frames"]
        assert after["start"] == pytest.approx(before["start"] + before["duration"], abs=1 / rate)
    for entry in schedule:
        assert entry["underrun"] is False
        assert entry["duration"] == pytest.approx(entry["frames"] / rate, abs=1e-12)
        # The page's timeline and the server's agree to within a sample.
        assert entry["start"] - first["start"] == pytest.approx(entry["timestamp_ms"] / 1000, abs=1 / rate)


def test_a_line_is_played_gaplessly_with_its_captions_highlighted(server, open_console) -> None:
    console = open_console(server)
    console.connect(fields={"seed": "1234"})
    console.wait("c.state === 'ready'")
    console.say("Hello there. Every chunk of this line plays right after the one before it, with no gap.")
    console.page.wait_for_selector(".caption.playing", timeout=30_000)
    console.wait("c.audio.level > 0.02")  # mid-word, so the waveform shows in the screenshot
    console.screenshot("console-playing.png")
    console.page.click("#end")
    console.wait("c.done.length === 1")
    console.wait("c.captions.length > 0 && c.captions.every(x => x.state === 'played')")

    received = console.hook("c.received")
    schedule = console.hook(SCHEDULE)
    assert_back_to_back(schedule)
    assert len(schedule) == len([m for m in received if m["bytes"] > 0])
    assert sum(entry["frames"] for entry in schedule) * 2 == sum(m["bytes"] for m in received)
    assert sum(1 for m in received if m["is_last"]) == 1
    assert console.hook("c.audio.sampleRate") == 24000
    assert console.hook("c.audio.peakLevel") > 0.01, "no signal reached the analyser"

    captions = console.hook("c.captions")
    assert [c["text"] for c in captions] == ["Hello there.", "Every chunk of this line plays right after the one before it, with no gap."]
    assert all(c["highlighted"] for c in captions)
    assert console.page.locator(".caption.played").count() == len(captions)

    done = console.hook("c.done[0]")
    assert done["reason"] == "end" and done["seed"] == 1234
    assert console.page.text_content("#effective-seed") == "1234"
    ttfa = console.hook("c.lines.map(l => l.ttfaMs)")
    assert len(ttfa) == 1 and 0 < ttfa[0] < 30_000
    assert console.page.locator("#lines tbody tr td").nth(2).text_content().endswith(" ms")
    assert console.hook("c.activeSources") == 0


def test_wav_at_48k_is_stripped_of_its_header_and_played_gaplessly(server, open_console) -> None:
    console = open_console(server)
    console.connect(selects={"format": "wav", "sample-rate": "48000"})
    console.wait("c.state === 'ready'")
    speak_and_finish(console, "A streamed wave file plays as it arrives.")

    schedule = console.hook(SCHEDULE)
    received = console.hook("c.received")
    assert_back_to_back(schedule)
    assert schedule[0]["sampleRate"] == 48000
    assert sum(entry["frames"] for entry in schedule) * 2 == sum(m["bytes"] for m in received) - WAV_HEADER_BYTES


def test_a_line_after_end_opens_a_new_stream_heard_after_the_first(server, open_console) -> None:
    console = open_console(server)
    console.connect()
    console.wait("c.state === 'ready'")
    console.say("First line, first stream.")
    console.page.click("#end")
    console.say("Second line, second stream.")
    console.page.click("#end")
    console.wait("c.done.length === 2")

    schedule = console.hook(SCHEDULE)
    first = [entry for entry in schedule if entry["ctx"] == "line-1"]
    second = [entry for entry in schedule if entry["ctx"] == "line-2"]
    assert first and second
    # The server generates both contexts at once; the page holds the second until the first is in.
    assert_back_to_back(first)
    assert_back_to_back(second)
    assert second[0]["startFrame"] >= first[-1]["startFrame"] + first[-1]["frames"]
    assert [line["ctx"] for line in console.hook("c.lines")] == ["line-1", "line-2"]
    assert all(t is not None and t > 0 for t in console.hook("c.lines.map(l => l.ttfaMs)"))


def test_flush_speaks_what_manual_segmentation_buffered(server, open_console) -> None:
    console = open_console(server)
    console.connect(selects={"segmentation": "manual"})
    console.wait("c.state === 'ready'")
    console.say("Held until the flush.")
    console.page.click("#flush")
    console.wait("c.flushed.length === 1")

    assert console.hook("c.flushed") == ["line-1"]
    assert console.hook("c.captions.map(x => x.text)") == ["Held until the flush."]
    # `flushed` follows the flushed text's last audio: all of it is in and scheduled.
    assert console.hook("c.received.filter(m => m.bytes > 0).length") == console.hook("c.scheduled.length") > 0
    assert console.hook("c.done.length") == 0  # flush does not end the stream
