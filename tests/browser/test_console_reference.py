"""Reference audio, picked from a file or recorded in the page, reaches the server as msgpack bin."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.browser.console import ConsolePage, server_reply

GARBAGE = bytes(range(256)) * 8


def tone_wav(seconds: float, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.2 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def clone_with_file(console: ConsolePage, path: Path) -> list[str]:
    console.page.select_option("#mode", "voice_clone")
    console.page.set_input_files("#ref-file", str(path))
    console.wait(f"c.referenceBytes === {path.stat().st_size}")
    console.connect(fields={"ref-text": "A short reference."})
    console.wait("c.state === 'closed'")
    return console.page.locator("#errors li").all_text_contents()


def test_an_undecodable_reference_file_gets_the_servers_bad_reference_audio(server, open_console, tmp_path) -> None:
    path = tmp_path / "garbage.wav"
    path.write_bytes(GARBAGE)
    expected = server_reply(server.url, mode="voice_clone", ref_audio=GARBAGE, ref_text="A short reference.")
    assert expected["name"] == "bad_reference_audio"

    shown = clone_with_file(open_console(server), path)
    assert len(shown) == 1 and expected["message"] in shown[0] and "bad_reference_audio (4103" in shown[0]


def test_a_good_reference_file_is_accepted_and_only_the_mode_is_refused(server, open_console, tmp_path) -> None:
    # The embedded engine has no voice_clone: the server decodes the reference, then refuses the mode.
    path = tmp_path / "tone.wav"
    path.write_bytes(tone_wav(2.0))
    expected = server_reply(server.url, mode="voice_clone", ref_audio=path.read_bytes(), ref_text="A short reference.")
    assert expected["name"] == "unknown_voice"

    shown = clone_with_file(open_console(server), path)
    assert len(shown) == 1 and expected["message"] in shown[0] and "unknown_voice (4104" in shown[0]


def test_a_recorded_reference_is_sent_and_decoded_by_the_server(server, open_console) -> None:
    console = open_console(server)
    console.page.select_option("#mode", "voice_clone")
    console.page.click("#ref-record")
    console.wait("c.recordingSeconds > 1.6")  # the server wants at least 1 s
    console.page.click("#ref-record")
    console.wait("c.referenceBytes > 0")
    assert console.page.text_content("#ref-status").startswith("recorded audio/")

    console.connect(fields={"ref-text": "A short reference."})
    console.wait("c.state === 'closed'")
    shown = console.page.locator("#errors li").all_text_contents()
    # The fake microphone's recording decodes: what is refused is the mode, not the audio.
    assert len(shown) == 1 and "unknown_voice (4104" in shown[0], shown
