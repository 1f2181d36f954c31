from __future__ import annotations

import subprocess
import sys
import wave

import soundfile


def say(server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "realtime", "say", *args, "--url", server.url],
        capture_output=True, text=True, timeout=60,
    )


def test_say_writes_a_wav_file_with_exact_sizes(server, tmp_path) -> None:
    out = tmp_path / "hello.wav"
    result = say(server, "Hello there. This is a test.", "-o", str(out), "--seed", "4", "--sample-rate", "16000")
    assert result.returncode == 0, result.stderr
    assert "seed 4" in result.stdout
    info = soundfile.info(str(out))
    assert info.samplerate == 16000 and info.channels == 1 and info.duration > 1.0
    with wave.open(str(out)) as handle:
        assert handle.getnframes() == info.frames


def test_say_reports_a_server_error_and_fails(server, tmp_path) -> None:
    result = say(server, "Hi.", "-o", str(tmp_path / "x.wav"), "--speaker", "nobody")
    assert result.returncode == 1
    assert "4104 unknown_voice" in result.stderr and "heart" in result.stderr


def test_say_refuses_an_unknown_extension(server, tmp_path) -> None:
    result = say(server, "Hi.", "-o", str(tmp_path / "x.doc"))
    assert result.returncode == 2 and "extension" in result.stderr


def test_say_writes_every_codec_format_as_a_file_other_tools_read(server, tmp_path) -> None:
    """The concatenated stream is the file: each extension's format decodes to the reported length."""
    import re

    import av

    for suffix in (".flac", ".ogg", ".opus", ".mp3", ".aac"):
        out = tmp_path / f"hello{suffix}"
        result = say(server, "Hello there. This is a test.", "-o", str(out), "--seed", "4")
        assert result.returncode == 0, result.stderr
        reported_s = float(re.search(r": ([0-9.]+) s of audio", result.stdout).group(1))  # type: ignore[union-attr]
        with av.open(str(out)) as container:  # probed from the bytes alone, as a player would
            decoded_s = sum(frame.samples / frame.sample_rate for frame in container.decode(audio=0))
        # mp3 and aac show their priming and padding: up to about 0.15 s at 24 kHz
        assert reported_s - 0.011 <= decoded_s <= reported_s + 0.15, (suffix, reported_s, decoded_s)
