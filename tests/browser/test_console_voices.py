"""The console's saved-voices panel in Chromium: pick a file, create, list, speak with it, delete."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from realtime.config import ServerConfig
from realtime.server.run import BackgroundServer
from tests.browser.console import ConsolePage
from tests.browser.test_console_modules import run_module
from tests.support.saved_voices import wav_bytes

LONG_WAIT_MS = 120_000  # tiny Qwen3 models on a shared CPU


@pytest.fixture(scope="module")
def voices_server(tiny_checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackgroundServer]:
    config = ServerConfig(models_dir=tiny_checkpoints["base"].parent, device="cpu", log_level="warning",
                          engine_threads=1, data_dir=tmp_path_factory.mktemp("console-voices"))
    with BackgroundServer(config) as running:
        yield running


def test_a_voice_is_created_from_a_file_spoken_with_and_deleted(voices_server, open_console, tmp_path) -> None:
    console: ConsolePage = open_console(voices_server)
    console.wait("c.voicesLoaded >= 1")
    assert console.hook("c.savedVoices") == []
    reference = tmp_path / "me.wav"
    reference.write_bytes(wav_bytes(1.5))
    page = console.page
    page.fill("#voice-name", "Browser voice")
    page.set_input_files("#voice-file", str(reference))
    console.wait(f"c.voiceBytes === {reference.stat().st_size}")
    page.check("#voice-x-vector-only")
    page.click("#voice-create-button")
    console.wait("c.savedVoices.length === 1", LONG_WAIT_MS)
    voice = console.hook("c.savedVoices[0]")
    assert voice["name"] == "Browser voice" and voice["source"] == "clone"
    assert console.hook("c.voiceStatus").startswith("created Browser voice")
    assert page.locator("#saved-voice option").count() == 2  # none + the new voice

    page.click(f"tr[data-voice='{voice['id']}'] .voice-speak")
    console.wait("c.state === 'ready'", LONG_WAIT_MS)
    ready = console.hook("c.ready")
    assert ready["voice"] == voice["id"] and ready["mode"] == "voice_clone" and ready["model"] == "tiny-base"
    console.say("Hi.")
    page.click("#end")
    console.wait("c.done.length === 1", LONG_WAIT_MS)
    assert console.hook("c.received.length") > 0 and console.hook("c.errors") == []
    console.screenshot("console-saved-voices.png")

    page.click(f"tr[data-voice='{voice['id']}'] .voice-delete")
    console.wait("c.savedVoices.length === 0", LONG_WAIT_MS)
    assert console.hook("c.voiceStatus") == "deleted Browser voice"


def test_the_servers_refusal_is_shown_in_the_panel(voices_server, open_console) -> None:
    console = open_console(voices_server)
    console.wait("c.voicesLoaded >= 1")
    console.page.fill("#voice-name", "No audio")
    console.page.click("#voice-create-button")
    console.wait("c.voiceStatus.startsWith('Not created')", LONG_WAIT_MS)
    assert "invalid_value (400)" in console.hook("c.voiceStatus") and "ref_audio" in console.hook("c.voiceStatus")


def test_a_saved_voice_replaces_the_voice_fields_in_session_start(voices_server, open_console) -> None:
    console = open_console(voices_server)
    start = run_module(console, "config.js", "return m.buildSessionStart(arg);", {
        "savedVoice": "voice_abc", "mode": "custom_voice", "model": "tiny-custom-voice", "speaker": "vivian",
        "instruct": "calm", "refAudio": None, "refText": "", "xVectorOnly": False, "language": "english",
        "seed": "7", "format": "pcm", "sampleRate": "24000", "segmentation": "auto", "token": "",
    })
    assert start == {"type": "session.start", "voice": "voice_abc", "language": "english", "seed": 7,
                     "format": "pcm", "sample_rate": 24000, "segmentation": "auto"}
